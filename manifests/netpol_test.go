package manifests_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/executor"
)

// policyIn is the one NetworkPolicy of namespace ns.
func policyIn(t *testing.T, objs []runtime.Object, ns string) *networkingv1.NetworkPolicy {
	t.Helper()
	var found []*networkingv1.NetworkPolicy
	for _, o := range objs {
		if p, ok := o.(*networkingv1.NetworkPolicy); ok && p.Namespace == ns {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d NetworkPolicies in namespace %s, want one", len(found), ns)
	}
	return found[0]
}

// jobPodLabels are the labels of a job pod as the executor builds it, with a configured
// label that tries to pass for something else.
func jobPodLabels(t *testing.T) labels.Set {
	t.Helper()
	pc, err := executor.NewPodConfig(config.Kubernetes{Namespace: jobsNS, HelperImage: "kuberunner:dev", Image: "alpine:3",
		PodLabels: map[string]string{"app.kubernetes.io/managed-by": "someone-else"}}, executor.RunnerInfo{Name: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	pod, _, err := executor.BuildPod(job(), pc)
	if err != nil {
		t.Fatal(err)
	}
	return pod.Labels
}

func selects(t *testing.T, p *networkingv1.NetworkPolicy, pod labels.Set) bool {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
	if err != nil {
		t.Fatalf("NetworkPolicy %s: %v", p.Name, err)
	}
	return !sel.Empty() && sel.Matches(pod)
}

// TestJobPodsTakeNoIngress: every job pod, and no runner pod, is under a policy that lets
// nothing in and leaves egress alone.
func TestJobPodsTakeNoIngress(t *testing.T) {
	objs := kustomize(t, "base")
	p := policyIn(t, objs, only[*rbacv1.Role](t, objs).Namespace)
	if !selects(t, p, jobPodLabels(t)) {
		t.Errorf("the jobs' policy (selector %v) does not select a job pod", p.Spec.PodSelector)
	}
	if selects(t, p, only[*appsv1.Deployment](t, objs).Spec.Template.Labels) {
		t.Errorf("the jobs' policy (selector %v) selects the runner's pods", p.Spec.PodSelector)
	}
	got := p.Spec
	got.PodSelector = metav1.LabelSelector{}
	want := networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the jobs' policy: want ingress denied, egress untouched (-want +got):\n%s", diff)
	}
}

// TestRunnerTakesOnlyMetrics: the runner's pods, and no job pod, are under a policy that
// lets in only the metrics port, from anywhere (Prometheus may run in any namespace).
func TestRunnerTakesOnlyMetrics(t *testing.T) {
	objs := kustomize(t, "base")
	d := only[*appsv1.Deployment](t, objs)
	p := policyIn(t, objs, d.Namespace)
	if diff := cmp.Diff(d.Spec.Selector.MatchLabels, p.Spec.PodSelector.MatchLabels); diff != "" {
		t.Errorf("the runner's policy selector against the Deployment's (-deployment +policy):\n%s", diff)
	}
	if selects(t, p, jobPodLabels(t)) {
		t.Errorf("the runner's policy (selector %v) selects job pods: they would take ingress on its port", p.Spec.PodSelector)
	}
	metrics := d.Spec.Template.Spec.Containers[0].Ports[0]
	tcp := corev1.ProtocolTCP
	port := intstr.FromInt32(metrics.ContainerPort)
	got := p.Spec
	got.PodSelector = metav1.LabelSelector{}
	want := networkingv1.NetworkPolicySpec{
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		Ingress:     []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port}}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the runner's policy: want ingress on port %s (%d) only, egress untouched (-want +got):\n%s",
			metrics.Name, metrics.ContainerPort, diff)
	}
}
