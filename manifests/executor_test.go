package manifests_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/executor"
	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/manifests"
)

var podsResource = corev1.SchemeGroupVersion.WithResource("pods")

// TestExecutorRunsWithOnlyTheRole runs one job through the real executor against a fake
// API that grants nothing but base/role.yaml. The test plays the kubelet through the
// fake's object tracker, which the Role does not restrict, as it does not restrict the
// kubelet.
func TestExecutorRunsWithOnlyTheRole(t *testing.T) {
	r := role(t)
	runJobUnderRoles(t, job(), config.Kubernetes{Namespace: r.Namespace, HelperImage: "kuberunner:dev"}, r)
}

// TestDeployAndBuildJobRunWithOnlyTheRoles: a job with an image builder and deploy access
// needs base/role.yaml in the jobs' namespace and deploy/role.yaml in the environment's,
// and nothing else: not even a right in the target namespace that deploy/role.yaml lacks.
func TestDeployAndBuildJobRunWithOnlyTheRoles(t *testing.T) {
	r, d := role(t), deployRole(t)
	j := job()
	j.Variables = append(j.Variables,
		jobspec.Variable{Key: "KUBERUNNER_BUILDKIT", Value: "true", Public: true},
		jobspec.Variable{Key: "CI_ENVIRONMENT_NAME", Value: "staging", Public: true})
	c := runJobUnderRoles(t, j, config.Kubernetes{
		Namespace: r.Namespace, HelperImage: "kuberunner:dev",
		Deploy: []config.Deploy{{Environment: "stag*", Namespace: d.Namespace, ClusterRole: "edit"}},
	}, r, d)
	// Nothing of the job's access is left in the target namespace.
	sas, err := c.Tracker().List(corev1.SchemeGroupVersion.WithResource("serviceaccounts"),
		corev1.SchemeGroupVersion.WithKind("ServiceAccount"), d.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	if items, _ := meta.ExtractList(sas); len(items) != 0 {
		t.Errorf("%d service accounts left in %s after the job", len(items), d.Namespace)
	}
}

func deployRole(t *testing.T) *rbacv1.Role {
	t.Helper()
	r, err := manifests.DeployRole()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runJobUnderRoles runs job to success under the Roles and fails the test on any request
// they refuse. It returns the fake clientset.
func runJobUnderRoles(t *testing.T, job *jobspec.Job, kc config.Kubernetes, roles ...*rbacv1.Role) *fake.Clientset {
	t.Helper()
	c := fake.NewClientset()
	// The API server stamps creationTimestamp; without it the executor's sweep at start
	// would take the job's Secret for an old orphan.
	c.PrependReactor("create", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if ca, ok := a.(clienttesting.CreateAction); ok {
			if m, err := meta.Accessor(ca.GetObject()); err == nil {
				m.SetCreationTimestamp(metav1.Now())
			}
		}
		return false, nil, nil
	})
	// The fake's tracker has no TokenRequest API.
	c.PrependReactor("create", "serviceaccounts", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "token" {
			return false, nil, nil
		}
		return true, &authenticationv1.TokenRequest{Status: authenticationv1.TokenRequestStatus{Token: "fake-token"}}, nil
	})
	enf := manifests.NewEnforcer(roles...)
	enf.Install(&c.Fake)
	// A running pod of another, live replica of the runner, which the executor judges at
	// every adoption pass (listing the Leases) and leaves alone.
	other := otherReplica(t, c, kc.Namespace)
	pods, err := c.Tracker().Watch(podsResource, kc.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	defer pods.Stop()

	rc := config.Runner{Name: "r1", URL: "https://gitlab.example.com", Kubernetes: kc}
	k, err := executor.NewKubernetes(rc, executor.Options{Client: c, Identity: "kuberunner-5f7c9-aaaaa",
		LeaseDuration: time.Second, AdoptInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	k.Adopt(func(_ *jobspec.Job, _ jobpod.Trace, follow executor.FollowFunc) {
		t.Errorf("adopted the pod of a live replica")
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(jobspec.ErrLeftToPod)
		follow(ctx, discardTrace{io.Discard}, nil)
	})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan jobspec.Result, 1)
	go func() { done <- k.Run(ctx, job, discardTrace{io.Discard}, nil) }()

	pod := createdPod(ctx, t, pods, done, enf)
	var inits []corev1.ContainerStatus
	for _, ic := range pod.Spec.InitContainers {
		st := terminated(ic.Name)
		if ic.Name == jobpod.ShipperContainer {
			// The shipper delivered the whole trace and left the report to the runner.
			st.State.Terminated.Message = `{"offset":0,"crc":0,"consumed":0,"complete":true}`
		}
		inits = append(inits, st)
	}
	pod.Status = corev1.PodStatus{
		Phase:                 corev1.PodSucceeded,
		InitContainerStatuses: inits,
		ContainerStatuses:     []corev1.ContainerStatus{terminated("build")},
	}
	if err := c.Tracker().Update(podsResource, pod, pod.Namespace); err != nil {
		t.Fatalf("pod status: %v; refused so far: %v", err, enf.Denied())
	}
	select {
	case res := <-done:
		if res.Reason != jobspec.FailureNone || res.Err != nil {
			t.Errorf("Run = %+v, want success; refused: %v", res, enf.Denied())
		}
	case <-ctx.Done():
		t.Fatalf("Run did not return; refused so far: %v", enf.Denied())
	}
	// The sweep runs in the background once the informer synced; wait for it by
	// sweeping again, so its calls are checked too.
	if err := k.Sweep(ctx, time.Now()); err != nil {
		t.Errorf("sweep: %v", err)
	}
	// The heartbeat renewed the replica's Lease and an adoption pass judged the other
	// replica's pod; Close deletes the Lease.
	for !called(c, "update", "leases") || !called(c, "list", "leases") {
		select {
		case <-ctx.Done():
			t.Fatalf("no Lease renewal or list; refused so far: %v", enf.Denied())
		case <-time.After(10 * time.Millisecond):
		}
	}
	k.Close()
	if !called(c, "delete", "leases") {
		t.Error("Close did not delete the replica's Lease")
	}
	if _, err := c.Tracker().Get(podsResource, other.Namespace, other.Name); err != nil {
		t.Errorf("the live replica's pod: %v", err)
	}
	if diff := cmp.Diff([]string(nil), enf.Denied()); diff != "" {
		t.Errorf("requests the Roles refused (-want +got):\n%s", diff)
	}
	return c
}

// otherReplica puts a running pod of another replica of runner r1 and its fresh Lease in
// namespace ns, as that replica made them.
func otherReplica(t *testing.T, c *fake.Clientset, ns string) *corev1.Pod {
	t.Helper()
	const identity = "kuberunner-5f7c9-bbbbb"
	lbls := executor.RunnerSelector("r1")
	lbls[jobpod.LabelManager] = identity
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: executor.PodName(41), Namespace: ns, Labels: lbls,
			CreationTimestamp: metav1.NewTime(time.Now().Add(-time.Hour))},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: executor.LeaseName("r1", identity), Namespace: ns, Labels: lbls},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(identity), LeaseDurationSeconds: ptr.To[int32](3600),
			RenewTime: &metav1.MicroTime{Time: time.Now()}},
	}
	for _, o := range []runtime.Object{pod, lease} {
		if err := c.Tracker().Add(o); err != nil {
			t.Fatal(err)
		}
	}
	return pod
}

// called: the executor made a call of verb on resource.
func called(c *fake.Clientset, verb, resource string) bool {
	for _, a := range c.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == resource {
			return true
		}
	}
	return false
}

func createdPod(ctx context.Context, t *testing.T, w watch.Interface, done <-chan jobspec.Result, enf *manifests.Enforcer) *corev1.Pod {
	t.Helper()
	for {
		select {
		case ev := <-w.ResultChan():
			if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type == watch.Added {
				return p.DeepCopy()
			}
		case res := <-done:
			t.Fatalf("the job ended before its pod was created: %+v; refused: %v", res, enf.Denied())
		case <-ctx.Done():
			t.Fatal("the executor created no pod")
		}
	}
}

// discardTrace is a job log the pod's shipper takes over and gives back, as the runner's is.
type discardTrace struct{ io.Writer }

func (discardTrace) Handover(context.Context) (jobpod.Trace, error) { return jobpod.Trace{}, nil }
func (discardTrace) Resume(context.Context, jobpod.ShipperState, bool) error {
	return nil
}
func (discardTrace) Reported(jobpod.ShipperState) {}

func terminated(name string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"},
	}}
}

func job() *jobspec.Job {
	return &jobspec.Job{
		ID:         42,
		Token:      "job-token",
		JobInfo:    jobspec.JobInfo{Name: "test", Stage: "test", ProjectID: 7, ProjectFullPath: "group/app", PipelineID: 99},
		GitInfo:    jobspec.GitInfo{RepoURL: "https://gitlab.example.com/group/app.git", Ref: "main", Sha: "0123456789abcdef0123456789abcdef01234567", RefType: "branch"},
		RunnerInfo: jobspec.RunnerInfo{Timeout: 600},
		Steps:      []jobspec.Step{{Name: jobspec.StepScript, Script: []string{"true"}, Timeout: 600, When: jobspec.WhenOnSuccess}},
		Image:      jobspec.Image{Name: "alpine:3"},
	}
}
