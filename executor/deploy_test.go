package executor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/jobspec"
)

func TestEnvironmentMatches(t *testing.T) {
	for _, tc := range []struct {
		pattern, env string
		want         bool
	}{
		{"staging", "staging", true},
		{"staging", "staging2", false},
		{"review/*", "review/feature/x", true},
		{"review/*", "reviews/x", false},
		{"*", "production", true},
		{"prod.", "prodx", false}, // not a regular expression
	} {
		if got := environmentMatches(tc.pattern, tc.env); got != tc.want {
			t.Errorf("environmentMatches(%q, %q) = %v, want %v", tc.pattern, tc.env, got, tc.want)
		}
	}
}

// TestJobWithoutEnvironmentGetsNoAccess: no environment, or one no entry matches, means no
// ServiceAccount, no kubeconfig, no KUBECONFIG, no kubectl.
func TestJobWithoutEnvironmentGetsNoAccess(t *testing.T) {
	pc := mustPodConfig(t, deployConfigYAML)
	for _, env := range []string{"", "staging"} {
		j := minimalJob()
		if env != "" {
			j.Variables = append(j.Variables, jobspec.Variable{Key: "CI_ENVIRONMENT_NAME", Value: env, Public: true})
		}
		o, err := BuildJob(j, pc)
		if err != nil {
			t.Fatal(err)
		}
		if o.ServiceAccount != nil || o.RoleBinding != nil {
			t.Errorf("environment %q: got deploy objects", env)
		}
		for _, e := range o.Pod.Spec.Containers[0].Env {
			if e.Name == "KUBECONFIG" {
				t.Errorf("environment %q: KUBECONFIG is set", env)
			}
		}
		if *o.Pod.Spec.AutomountServiceAccountToken {
			t.Errorf("environment %q: the pod's service account token is mounted", env)
		}
	}
}

func TestBuildKitModes(t *testing.T) {
	ask := func() *jobspec.Job {
		j := minimalJob()
		j.Variables = append(j.Variables, jobspec.Variable{Key: "KUBERUNNER_BUILDKIT", Value: "true", Public: true})
		return j
	}
	hasDaemon := func(o *JobObjects) bool {
		for _, c := range o.Pod.Spec.InitContainers {
			if c.Name == buildKitContainer {
				return true
			}
		}
		return false
	}
	o, err := BuildJob(minimalJob(), mustPodConfig(t, "buildkit: {mode: always}"))
	if err != nil || !hasDaemon(o) {
		t.Errorf("mode always, job not asking: daemon=%v err=%v; want a daemon", o != nil && hasDaemon(o), err)
	}
	if o, err := BuildJob(minimalJob(), mustPodConfig(t, "")); err != nil || hasDaemon(o) {
		t.Errorf("mode allowed, job not asking: want no daemon (err %v)", err)
	}
	_, err = BuildJob(ask(), mustPodConfig(t, "buildkit: {mode: forbidden}"))
	if !errors.Is(err, errForbiddenByConfig) || !strings.Contains(err.Error(), "kubernetes.buildkit.mode: forbidden") {
		t.Errorf("mode forbidden, job asking: err = %v, want a refusal naming the setting", err)
	}
}

func TestJobCannotLoosenHardenedProfile(t *testing.T) {
	pc := mustPodConfig(t, "security_context: {profile: hardened}")
	j := minimalJob()
	j.Variables = append(j.Variables, jobspec.Variable{Key: "KUBERUNNER_SECURITY_PROFILE", Value: "default", Public: true})
	if _, err := BuildJob(j, pc); !errors.Is(err, ErrInvalidJob) {
		t.Errorf("err = %v, want ErrInvalidJob", err)
	}
	o, err := BuildJob(minimalJob(), pc)
	if err != nil {
		t.Fatal(err)
	}
	sc := o.Pod.Spec.Containers[0].SecurityContext
	if !*sc.RunAsNonRoot || *sc.RunAsUser == 0 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("hardened security context = %+v", sc)
	}
}

// TestCreateJobObjectsForDeployJob: the account and its binding exist before the pod, the
// kubeconfig in the Secret carries the token and the namespace, and a failed pod creation
// takes all of it back.
func TestCreateJobObjectsForDeployJob(t *testing.T) {
	o, err := BuildJob(deployJob(), mustPodConfig(t, deployConfigYAML))
	if err != nil {
		t.Fatal(err)
	}
	c := recorded(t, fake.NewClientset())
	var expiry int64
	c.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "token" {
			return false, nil, nil
		}
		expiry = *a.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenRequest).Spec.ExpirationSeconds
		return true, &authenticationv1.TokenRequest{Status: authenticationv1.TokenRequestStatus{Token: "tok-123"}}, nil
	})
	c.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, context.DeadlineExceeded
	})
	_, err = createJobObjects(context.Background(), c, o, APIServer{Host: "https://10.0.0.1:6443", CAData: []byte("ca")})
	if err == nil {
		t.Fatal("createJobObjects succeeded, want the pod's error")
	}
	var calls []string
	for _, a := range c.Actions() {
		call := a.GetVerb() + " " + a.GetResource().Resource
		if a.GetSubresource() != "" {
			call += "/" + a.GetSubresource()
		}
		calls = append(calls, call+" "+a.GetNamespace())
	}
	want := []string{
		"create serviceaccounts review", "create rolebindings review", "create serviceaccounts/token review",
		"create secrets default", "create pods default",
		"delete serviceaccounts review", "delete rolebindings review", "delete secrets default",
	}
	if d := cmp.Diff(want, calls); d != "" {
		t.Errorf("API calls -want +got:\n%s", d)
	}
	if expiry != *o.Pod.Spec.ActiveDeadlineSeconds {
		t.Errorf("token lifetime %d s, want the pod's deadline %d s", expiry, *o.Pod.Spec.ActiveDeadlineSeconds)
	}
	cfg, err := clientcmd.Load(o.Secret.Data[jobpod.KubeconfigFile])
	if err != nil {
		t.Fatal(err)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	if cfg.AuthInfos[ctx.AuthInfo].Token != "tok-123" || ctx.Namespace != "review" || cfg.Clusters[ctx.Cluster].Server != "https://10.0.0.1:6443" {
		t.Errorf("kubeconfig: token, namespace or server wrong: %+v", ctx)
	}
}

func TestSweepDeployAccessKeepsLiveJobs(t *testing.T) {
	old := metav1.NewTime(time.Now().Add(-time.Hour))
	sa := func(name string, created metav1.Time) *corev1.ServiceAccount {
		return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "review",
			Labels: RunnerSelector("r1"), CreationTimestamp: created}}
	}
	c := recorded(t, fake.NewClientset(sa("kr-job-1", old), sa("kr-job-2", old), sa("kr-job-3", metav1.Now())))
	alive := func(name string) bool { return name == "kr-job-2" }
	n, err := SweepDeployAccess(context.Background(), c, "review", "r1", alive, time.Minute, time.Now())
	if err != nil || n != 1 {
		t.Fatalf("swept %d (err %v), want 1", n, err)
	}
	left, _ := direct(c).CoreV1().ServiceAccounts("review").List(context.Background(), metav1.ListOptions{})
	var names []string
	for _, s := range left.Items {
		names = append(names, s.Name)
	}
	if d := cmp.Diff([]string{"kr-job-2", "kr-job-3"}, names); d != "" {
		t.Errorf("left -want +got:\n%s", d)
	}
}
