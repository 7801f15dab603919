package charts_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestValues: each value set renders what it promises in values.yaml.
func TestValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, values string
		check        func(t *testing.T, objs []runtime.Object)
	}{
		{"existing Secret", "gitlabUrl: null\nrunnerToken: null\nexistingSecret: my-config\n", func(t *testing.T, objs []runtime.Object) {
			if s := all[*corev1.Secret](objs); len(s) != 0 {
				t.Errorf("%d Secrets rendered; the configuration is the user's Secret", len(s))
			}
			d := one[*appsv1.Deployment](t, objs)
			checkConfigMount(t, d, "my-config")
			if _, ok := d.Spec.Template.Annotations["checksum/config"]; ok {
				t.Error("checksum/config annotation: the chart does not know the user's Secret")
			}
		}},
		{"no RBAC", "rbac: {create: false}\n", func(t *testing.T, objs []runtime.Object) {
			if n := len(all[*rbacv1.Role](objs)) + len(all[*rbacv1.RoleBinding](objs)); n != 0 {
				t.Errorf("%d Roles and RoleBindings with rbac.create=false", n)
			}
		}},
		{"jobs in another namespace", "jobNamespace: ci-jobs\n", func(t *testing.T, objs []runtime.Object) {
			rb := one[*rbacv1.RoleBinding](t, objs)
			type placement struct{ Role, RoleBinding, Subject, Runner, Jobs string }
			got := placement{one[*rbacv1.Role](t, objs).Namespace, rb.Namespace, rb.Subjects[0].Namespace,
				one[*appsv1.Deployment](t, objs).Namespace, renderedConfig(t, objs).Runners[0].Kubernetes.Namespace}
			if diff := cmp.Diff(placement{"ci-jobs", "ci-jobs", releaseNS, releaseNS, "ci-jobs"}, got); diff != "" {
				t.Errorf("namespaces (-want +got):\n%s", diff)
			}
			var policies []string
			for _, p := range all[*networkingv1.NetworkPolicy](objs) {
				policies = append(policies, p.Namespace+"/"+p.Name)
			}
			if diff := cmp.Diff([]string{"ci-jobs/kr-kuberunner-jobs", releaseNS + "/kr-kuberunner"}, policies); diff != "" {
				t.Errorf("NetworkPolicies (-want +got):\n%s", diff)
			}
		}},
		{"existing ServiceAccount", "serviceAccount: {create: false, name: runner-sa}\n", func(t *testing.T, objs []runtime.Object) {
			if n := len(all[*corev1.ServiceAccount](objs)); n != 0 {
				t.Errorf("%d ServiceAccounts with serviceAccount.create=false", n)
			}
			got := []string{one[*appsv1.Deployment](t, objs).Spec.Template.Spec.ServiceAccountName, one[*rbacv1.RoleBinding](t, objs).Subjects[0].Name}
			if diff := cmp.Diff([]string{"runner-sa", "runner-sa"}, got); diff != "" {
				t.Errorf("account of the pod and of the binding (-want +got):\n%s", diff)
			}
		}},
		{"ServiceMonitor", "metrics: {serviceMonitor: {enabled: true, interval: 30s, labels: {release: prom}}}\n", checkServiceMonitor},
		{"no NetworkPolicies", "networkPolicy: {enabled: false}\n", func(t *testing.T, objs []runtime.Object) {
			if n := len(all[*networkingv1.NetworkPolicy](objs)); n != 0 {
				t.Errorf("%d NetworkPolicies with networkPolicy.enabled=false", n)
			}
		}},
		{"no metrics", "metrics: {enabled: false}\n", func(t *testing.T, objs []runtime.Object) {
			if n := len(all[*corev1.Service](objs)); n != 0 {
				t.Errorf("%d Services with metrics.enabled=false", n)
			}
			if a := one[*appsv1.Deployment](t, objs).Spec.Template.Annotations; a["prometheus.io/scrape"] != "" {
				t.Errorf("pod annotations %v: prometheus.io/scrape with metrics.enabled=false", a)
			}
		}},
		{"replicas", "replicas: 2\n", func(t *testing.T, objs []runtime.Object) {
			if r := one[*appsv1.Deployment](t, objs).Spec.Replicas; r == nil || *r != 2 {
				t.Errorf("replicas %v, want 2", r)
			}
		}},
		{"scheduling and pod metadata", schedulingValues, checkScheduling},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.check(t, mustTemplate(t, tc.values))
		})
	}
}

func checkServiceMonitor(t *testing.T, objs []runtime.Object) {
	t.Helper()
	sm := one[*unstructured.Unstructured](t, objs)
	if got := sm.GetAPIVersion() + " " + sm.GetKind(); got != "monitoring.coreos.com/v1 ServiceMonitor" {
		t.Fatalf("rendered %s, want a ServiceMonitor", got)
	}
	svc := one[*corev1.Service](t, objs)
	sel, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	for k, v := range sel {
		if svc.Labels[k] != v {
			t.Errorf("ServiceMonitor selects %s=%s; the Service's labels are %v", k, v, svc.Labels)
		}
	}
	if len(sel) == 0 {
		t.Error("ServiceMonitor selects every Service")
	}
	eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	want := []any{map[string]any{"port": "metrics", "path": "/metrics", "interval": "30s"}}
	if diff := cmp.Diff(want, eps); diff != "" {
		t.Errorf("endpoints (-want +got):\n%s", diff)
	}
	if sm.GetLabels()["release"] != "prom" || sm.GetNamespace() != releaseNS {
		t.Errorf("ServiceMonitor %s/%s labels %v: want release=prom, in the release's namespace", sm.GetNamespace(), sm.GetName(), sm.GetLabels())
	}
}

const schedulingValues = `
nodeSelector: {kubernetes.io/os: linux}
tolerations: [{key: ci, operator: Exists, effect: NoSchedule}]
affinity: {podAntiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 1, podAffinityTerm: {topologyKey: kubernetes.io/hostname}}]}}
podAnnotations: {team: ci}
podLabels: {team: ci}
imagePullSecrets: [{name: registry}]
image: {repository: registry.example.com/kuberunner, tag: v1.2.3, pullPolicy: Always}
resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {memory: 512Mi}}
`

func checkScheduling(t *testing.T, objs []runtime.Object) {
	t.Helper()
	d := one[*appsv1.Deployment](t, objs)
	spec := d.Spec.Template.Spec
	c := spec.Containers[0]
	type pod struct {
		NodeSelector             map[string]string
		Tolerations              []corev1.Toleration
		AntiAffinity             bool
		Annotation               string
		Label                    string
		PullSecrets              []corev1.LocalObjectReference
		Image                    string
		PullPolicy               corev1.PullPolicy
		MemoryLimit              string
		SelectorIgnoresPodLabels bool
	}
	got := pod{spec.NodeSelector, spec.Tolerations, spec.Affinity != nil && spec.Affinity.PodAntiAffinity != nil,
		d.Spec.Template.Annotations["team"], d.Spec.Template.Labels["team"], spec.ImagePullSecrets,
		c.Image, c.ImagePullPolicy, c.Resources.Limits.Memory().String(),
		d.Spec.Selector.MatchLabels["team"] == ""}
	want := pod{map[string]string{"kubernetes.io/os": "linux"},
		[]corev1.Toleration{{Key: "ci", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
		true, "ci", "ci", []corev1.LocalObjectReference{{Name: "registry"}},
		"registry.example.com/kuberunner:v1.2.3", corev1.PullAlways, "512Mi", true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pod (-want +got):\n%s", diff)
	}
}
