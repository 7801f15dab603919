package manifests_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"

	"github.com/kuberunner/kuberunner/executor"
	"github.com/kuberunner/kuberunner/manifests"
)

func enforcedClient(t *testing.T) (*fake.Clientset, *manifests.Enforcer, string) {
	t.Helper()
	r := role(t)
	c := fake.NewClientset()
	e := manifests.NewEnforcer(r)
	e.Install(&c.Fake)
	return c, e, r.Namespace
}

// TestRunnerCallsNeedOnlyTheRole makes every call the runner is meant to make for one job,
// in its order, against an API that grants nothing but base/role.yaml (the executor's own
// are checked by TestExecutorRunsWithOnlyTheRole, which runs the executor itself).
func TestRunnerCallsNeedOnlyTheRole(t *testing.T) {
	c, enf, ns := enforcedClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	const runnerName = "k8s-runner"
	sel := executor.RunnerSelector(runnerName)
	name := executor.PodName(42)
	meta := metav1.ObjectMeta{Name: name, Namespace: ns, Labels: sel}

	// Informers first, as the executor starts them before the first job.
	factory := informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = labels.SelectorFromSet(sel).String()
		}))
	pods := factory.Core().V1().Pods().Informer()
	factory.Start(ctx.Done())
	defer func() {
		cancel() // stops the informers, which Shutdown waits for
		factory.Shutdown()
	}()
	if !cache.WaitForCacheSync(ctx.Done(), pods.HasSynced) {
		t.Fatalf("the informer did not sync; refused: %v", enf.Denied())
	}

	secret, err := c.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: meta}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create secret: %v", err)
	}
	pod, err := c.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: meta}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod: %v", err)
	}
	secret.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID}}
	if _, err := c.CoreV1().Secrets(ns).Update(ctx, secret, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("set owner of secret: %v", err)
	}
	if !cache.WaitForCacheSync(ctx.Done(), func() bool {
		_, ok, _ := pods.GetStore().GetByKey(ns + "/" + name)
		return ok
	}) {
		t.Fatal("the pod informer never saw the job pod")
	}
	logs, err := c.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{Container: "build", Follow: true}).Stream(ctx)
	if err != nil {
		t.Fatalf("follow log: %v", err)
	}
	if _, err := io.Copy(io.Discard, logs); err != nil {
		t.Fatalf("read log: %v", err)
	}
	logs.Close()
	if err := c.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete pod: %v", err)
	}
	if err := c.CoreV1().Secrets(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete secret: %v", err)
	}

	orphan := metav1.ObjectMeta{Name: executor.PodName(43), Namespace: ns, Labels: sel}
	if _, err := c.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: orphan}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create orphan secret: %v", err)
	}
	n, err := executor.SweepOrphanSecrets(ctx, c, ns, runnerName, 0, time.Now().Add(time.Hour))
	if err != nil || n != 1 {
		t.Errorf("SweepOrphanSecrets = %d, %v; want 1, nil", n, err)
	}

	if diff := cmp.Diff([]string(nil), enf.Denied()); diff != "" {
		t.Errorf("requests the Role refused (-want +got):\n%s", diff)
	}
}

func TestEnforcerRefusesWhatTheRoleDoesNotGrant(t *testing.T) {
	ns := role(t).Namespace
	pods := corev1.SchemeGroupVersion.WithResource("pods")
	secrets := corev1.SchemeGroupVersion.WithResource("secrets")
	nodes := corev1.SchemeGroupVersion.WithResource("nodes")
	deployments := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	tests := []struct {
		name   string
		action clienttesting.Action
		denied string
	}{
		{"exec", clienttesting.NewCreateSubresourceAction(pods, "kr-job-1", "exec", ns, &corev1.PodExecOptions{}), "create pods/exec " + ns + "/kr-job-1"},
		{"attach", clienttesting.NewCreateSubresourceAction(pods, "kr-job-1", "attach", ns, &corev1.PodAttachOptions{}), "create pods/attach " + ns + "/kr-job-1"},
		{"read a secret", clienttesting.NewGetAction(secrets, ns, "kuberunner-config"), "get secrets " + ns + "/kuberunner-config"},
		{"secrets beside the runner", clienttesting.NewListAction(secrets, corev1.SchemeGroupVersion.WithKind("Secret"), baseDeployment(t).Namespace, metav1.ListOptions{}), "list secrets kuberunner/"},
		{"patch a pod", clienttesting.NewPatchAction(pods, ns, "kr-job-1", "application/merge-patch+json", []byte(`{}`)), "patch pods " + ns + "/kr-job-1"},
		{"pods in another namespace", clienttesting.NewListAction(pods, corev1.SchemeGroupVersion.WithKind("Pod"), "default", metav1.ListOptions{}), "list pods default/"},
		{"cluster-scoped", clienttesting.NewRootListAction(nodes, corev1.SchemeGroupVersion.WithKind("Node"), metav1.ListOptions{}), "list nodes /"},
		{"another API group", clienttesting.NewListAction(deployments, schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, ns, metav1.ListOptions{}), "list deployments " + ns + "/"},
		{"delete collection", clienttesting.NewDeleteCollectionAction(secrets, ns, metav1.ListOptions{}), "deletecollection secrets " + ns + "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, enf, _ := enforcedClient(t)
			_, err := c.Invokes(tt.action, nil)
			if !apierrors.IsForbidden(err) {
				t.Errorf("%s: error %v, want Forbidden", tt.name, err)
			}
			if diff := cmp.Diff([]string{tt.denied}, enf.Denied()); diff != "" {
				t.Errorf("Denied (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAllowed(t *testing.T) {
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"*"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}, ResourceNames: []string{"settings"}},
		{APIGroups: []string{"apps"}, Resources: []string{"*/scale"}, Verbs: []string{"get"}},
	}
	tests := []struct {
		verb, group, resource, name string
		want                        bool
	}{
		{"delete", "", "pods", "p", true},
		{"get", "", "pods/log", "p", false}, // a subresource is its own resource
		{"get", "", "configmaps", "settings", true},
		{"get", "", "configmaps", "other", false},
		{"list", "", "configmaps", "", false}, // resourceNames cannot cover a list
		{"get", "apps", "deployments/scale", "d", true},
		{"get", "apps", "deployments", "d", false},
		{"get", "", "replicationcontrollers/scale", "r", false}, // another group
	}
	for _, tt := range tests {
		if got := manifests.Allowed(rules, tt.verb, tt.group, tt.resource, tt.name); got != tt.want {
			t.Errorf("Allowed(%s %q %s %q) = %v, want %v", tt.verb, tt.group, tt.resource, tt.name, got, tt.want)
		}
	}
}
