//go:build e2e

package manifests_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kuberunner/kuberunner/e2e/e2eutil"
	"github.com/kuberunner/kuberunner/executor"
)

// TestRoleOnCluster runs one job's worth of the runner's calls on a real cluster as a
// ServiceAccount that holds base/role.yaml and nothing else, and asks the API server
// what that account may not do.
func TestRoleOnCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	admin := e2eutil.Client(t)
	images, err := e2eutil.LoadImages()
	if err != nil {
		t.Fatal(err)
	}
	ns := e2eutil.Namespace(t, admin)
	c := runnerClient(ctx, t, admin, ns)

	// The runner's rights reach the authorizer through its informers; wait for them.
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		return allowed(ctx, t, c, ns, "create", "pods", ""), nil
	})
	if err != nil {
		t.Fatalf("the Role never took effect: %v", err)
	}
	for _, g := range executorCalls(t, "jobs") {
		res, sub, _ := strings.Cut(g.Resource, "/")
		if !allowed(ctx, t, c, ns, g.Verb, res, sub) {
			t.Errorf("the runner may not %s %s", g.Verb, g.Resource)
		}
	}
	for _, f := range []struct{ verb, resource, sub string }{
		{"create", "pods", "exec"}, {"get", "pods", "exec"}, {"create", "pods", "attach"},
		{"get", "secrets", ""}, {"patch", "pods", ""}, {"list", "nodes", ""},
		{"watch", "leases.coordination.k8s.io", ""}, {"patch", "leases.coordination.k8s.io", ""},
	} {
		if allowed(ctx, t, c, ns, f.verb, f.resource, f.sub) {
			t.Errorf("the runner may %s %s/%s", f.verb, f.resource, f.sub)
		}
	}
	if _, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{}); err == nil {
		t.Error("the runner can list pods in namespace default")
	}

	const runnerName = "e2e"
	name := executor.PodName(1)
	meta := metav1.ObjectMeta{Name: name, Namespace: ns, Labels: executor.RunnerSelector(runnerName)}
	secret, err := c.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: meta, StringData: map[string]string{"greeting": "hello from the job secret"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create secret: %v", err)
	}
	pod, err := c.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: meta,
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: new(false),
			Containers: []corev1.Container{{
				Name: "build", Image: images.Busybox,
				Command:      []string{"sh", "-c", "cat /kr/job/greeting"},
				VolumeMounts: []corev1.VolumeMount{{Name: "job", MountPath: "/kr/job", ReadOnly: true}},
			}},
			Volumes: []corev1.Volume{{Name: "job", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: name}}}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod: %v", err)
	}
	secret.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID, BlockOwnerDeletion: new(false)}}
	if _, err := c.CoreV1().Secrets(ns).Update(ctx, secret, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("set owner of secret: %v", err)
	}
	if _, err := e2eutil.WaitPod(ctx, c, ns, name, e2eutil.Succeeded); err != nil {
		t.Fatal(err) // list and watch, as the runner
	}
	logs, err := c.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{Container: "build", Follow: true}).Stream(ctx)
	if err != nil {
		t.Fatalf("follow log: %v", err)
	}
	out, err := io.ReadAll(logs)
	logs.Close()
	if err != nil || string(out) != "hello from the job secret" {
		t.Errorf("log = %q, %v; want the job secret's greeting", out, err)
	}
	if err := c.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))}); err != nil {
		t.Errorf("delete pod: %v", err)
	}

	orphan := metav1.ObjectMeta{Name: executor.PodName(2), Namespace: ns, Labels: executor.RunnerSelector(runnerName)}
	if _, err := c.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: orphan}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create orphan secret: %v", err)
	}
	if n, err := executor.SweepOrphanSecrets(ctx, c, ns, runnerName, 0, time.Now().Add(time.Hour)); err != nil || n < 1 {
		t.Errorf("SweepOrphanSecrets = %d, %v; want at least the orphan, no error", n, err)
	}
}

// runnerClient applies base's ServiceAccount, Role and RoleBinding in ns and returns a
// client that authenticates as that ServiceAccount.
func runnerClient(ctx context.Context, t *testing.T, admin kubernetes.Interface, ns string) kubernetes.Interface {
	t.Helper()
	objs := baseObjects(t)
	sa := only[*corev1.ServiceAccount](t, objs).DeepCopy()
	r := only[*rbacv1.Role](t, objs).DeepCopy()
	rb := only[*rbacv1.RoleBinding](t, objs).DeepCopy()
	sa.Namespace, r.Namespace, rb.Namespace, rb.Subjects[0].Namespace = ns, ns, ns, ns
	if _, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create service account: %v", err)
	}
	if _, err := admin.RbacV1().Roles(ns).Create(ctx, r, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create role: %v", err)
	}
	if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create role binding: %v", err)
	}
	tok, err := admin.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa.Name, &authnv1.TokenRequest{
		Spec: authnv1.TokenRequestSpec{ExpirationSeconds: new(int64(600))},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s: %v", sa.Name, err)
	}
	adminCfg, err := e2eutil.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.AnonymousClientConfig(adminCfg)
	cfg.BearerToken = tok.Status.Token
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// allowed asks the API server whether c may do verb on resource/sub in ns.
func allowed(ctx context.Context, t *testing.T, c kubernetes.Interface, ns, verb, resource, sub string) bool {
	t.Helper()
	// A grant names a resource outside the core group with its group: "leases.coordination.k8s.io".
	resource, group, _ := strings.Cut(resource, ".")
	rev, err := c.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authzv1.SelfSubjectAccessReview{
		Spec: authzv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authzv1.ResourceAttributes{
			Namespace: ns, Verb: verb, Group: group, Resource: resource, Subresource: sub,
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("access review %s %s/%s: %v", verb, resource, sub, err)
	}
	return rev.Status.Allowed
}
