package executor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/jobspec"
)

// harness is an executor on the fake clientset; the test plays the kubelet.
type harness struct {
	t      *testing.T
	client *fake.Clientset
	exec   *Kubernetes
	logs   *fakeLogs
	pods   watch.Interface
}

func newHarness(t *testing.T, unsched time.Duration, objects ...runtime.Object) *harness {
	t.Helper()
	return newHarnessOpts(t, Options{UnschedulableTimeout: unsched}, objects...)
}

// newHarnessOpts is newHarness with the executor's Options; Client and Logs are the harness's.
func newHarnessOpts(t *testing.T, opts Options, objects ...runtime.Object) *harness {
	t.Helper()
	return newHarnessOn(t, newFakeAPI(t, objects...), opts)
}

// newHarnessOn is an executor with opts on client, which other harnesses may share.
func newHarnessOn(t *testing.T, client *fake.Clientset, opts Options) *harness {
	t.Helper()
	logs := &fakeLogs{lines: map[string][]stampedLine{}}
	rc := config.Runner{Name: "r1", URL: "https://gitlab.example.com", Kubernetes: config.Kubernetes{
		Namespace: "ci", HelperImage: "helper:1", GracefulCancelTimeout: config.Duration(20 * time.Second),
	}}
	opts.Client, opts.Logs = client, logs
	k, err := NewKubernetes(rc, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !cache.WaitForCacheSync(ctx.Done(), k.synced) {
		t.Fatal("informer did not sync")
	}
	select { // the sweep at start would take the test's Secret for an orphan
	case <-k.swept:
	case <-ctx.Done():
		t.Fatal("the sweep at start did not end")
	}
	w, err := direct(client).CoreV1().Pods("ci").Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return &harness{t: t, client: client, exec: k, logs: logs, pods: w}
}

// created waits for the job's pod to be created.
func (h *harness) created() *corev1.Pod {
	h.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-h.pods.ResultChan():
			if ev.Type == watch.Added {
				return ev.Object.(*corev1.Pod)
			}
		case <-deadline:
			h.t.Fatal("no pod created")
		}
	}
}

func (h *harness) setStatus(pod *corev1.Pod, st corev1.PodStatus) {
	h.t.Helper()
	p, err := direct(h.client).CoreV1().Pods(pod.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	p.Status = st
	if _, err := direct(h.client).CoreV1().Pods(pod.Namespace).UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// run starts the job and returns a channel with its result and its log.
func (h *harness) run(ctx context.Context, graceful <-chan struct{}) <-chan runResult {
	done := make(chan runResult, 1)
	go func() {
		log := &fakeHandover{}
		res := h.exec.Run(ctx, minimalJob(), log, graceful)
		done <- runResult{res, log.String(), log}
	}()
	return done
}

type runResult struct {
	res   jobspec.Result
	log   string
	trace *fakeHandover
}

func (h *harness) result(done <-chan runResult) runResult {
	h.t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(20 * time.Second):
		h.t.Fatal("Run did not return")
	}
	return runResult{}
}

// assertClean checks no pod or Secret remains and returns the grace periods of pod deletions.
func (h *harness) assertClean() []int64 {
	h.t.Helper()
	ctx := context.Background()
	pods, _ := direct(h.client).CoreV1().Pods("ci").List(ctx, metav1.ListOptions{})
	secrets, _ := direct(h.client).CoreV1().Secrets("ci").List(ctx, metav1.ListOptions{})
	if len(pods.Items)+len(secrets.Items) != 0 {
		h.t.Errorf("left behind: %d pods, %d secrets", len(pods.Items), len(secrets.Items))
	}
	var graces []int64
	for _, a := range h.client.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok && a.GetResource().Resource == "pods" {
			graces = append(graces, *d.GetDeleteOptions().GracePeriodSeconds)
		}
	}
	return graces
}

var (
	prepareDone = terminatedStatus(prepareContainer, 0, "Completed", "")
	buildRuns   = corev1.ContainerStatus{Name: buildContainer, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
)

var (
	shipped  = jobpod.ShipperState{Offset: 5000, CRC: 42, Consumed: 3766}
	complete = jobpod.ShipperState{Offset: 5000, CRC: 42, Consumed: 3766, Complete: true}
	reported = jobpod.ShipperState{Offset: 5100, CRC: 43, Consumed: 3766, Reported: true, State: "success"}
)

func TestRunOutcomes(t *testing.T) {
	tests := []struct {
		name         string
		status       corev1.PodStatus
		want         jobspec.Result
		wantReported bool
		wantResumed  *jobpod.ShipperState
		wantLog      string
	}{
		{"success reported by the pod", corev1.PodStatus{Phase: corev1.PodRunning,
			InitContainerStatuses: []corev1.ContainerStatus{shipperEnded(reported), prepareDone},
			ContainerStatuses:     []corev1.ContainerStatus{terminatedStatus(buildContainer, 0, "Completed", "")}},
			jobspec.Result{}, true, nil, "Created pod ci/kr-job-42\n"},
		{"success reported by a shipper the kubelet restarted since", corev1.PodStatus{Phase: corev1.PodRunning,
			InitContainerStatuses: []corev1.ContainerStatus{restartedShipper(reported), prepareDone},
			ContainerStatuses:     []corev1.ContainerStatus{terminatedStatus(buildContainer, 0, "Completed", "")}},
			jobspec.Result{}, true, nil, "Created pod ci/kr-job-42\n"},
		{"script failure the pod could not report", corev1.PodStatus{Phase: corev1.PodFailed,
			InitContainerStatuses: []corev1.ContainerStatus{shipperEnded(shipped), prepareDone},
			ContainerStatuses:     []corev1.ContainerStatus{terminatedStatus(buildContainer, 3, "Error", "")}},
			jobspec.Result{Reason: jobspec.ScriptFailure, ExitCode: 3}, false, &shipped, ""},
		{"success the pod shipped whole but could not report", corev1.PodStatus{Phase: corev1.PodSucceeded,
			InitContainerStatuses: []corev1.ContainerStatus{shipperEnded(complete), prepareDone},
			ContainerStatuses:     []corev1.ContainerStatus{terminatedStatus(buildContainer, 0, "Completed", "")}},
			jobspec.Result{}, false, &complete, ""},
		{"success whose log's end never reached GitLab", corev1.PodStatus{Phase: corev1.PodSucceeded,
			InitContainerStatuses: []corev1.ContainerStatus{shipperEnded(shipped), prepareDone},
			ContainerStatuses:     []corev1.ContainerStatus{terminatedStatus(buildContainer, 0, "Completed", "")}},
			jobspec.Result{Reason: jobspec.RunnerSystemFailure}, false, &shipped, ""},
		{"image pull", corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{shipperEnded(shipped), prepareDone},
			ContainerStatuses:     []corev1.ContainerStatus{waitingStatus(buildContainer, "golang:1.26", "ErrImagePull", "not found")}},
			// Not "Waiting for pod": the informer may deliver the Pending and the
			// ErrImagePull states as one update, and then there was no wait to report.
			jobspec.Result{Reason: jobspec.ImagePullFailure}, false, &shipped, "Created pod ci/kr-job-42\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, time.Minute)
			done := h.run(context.Background(), nil)
			pod := h.created()
			h.setStatus(pod, corev1.PodStatus{Phase: corev1.PodPending})
			h.setStatus(pod, tc.status)
			got := h.result(done)
			if d := cmp.Diff(tc.want, got.res, cmp.Comparer(func(a, b error) bool { return true })); d != "" {
				t.Errorf("result -want +got:\n%s", d)
			}
			if !got.trace.handed {
				t.Error("the trace was not handed over before the pod")
			}
			if (got.trace.reported != nil) != tc.wantReported {
				t.Errorf("reported by the pod: %v, want %v", got.trace.reported, tc.wantReported)
			}
			if d := cmp.Diff(tc.wantResumed, got.trace.resumed); d != "" || tc.wantResumed != nil && !got.trace.known {
				t.Errorf("trace resumed at -want +got (known %v):\n%s", got.trace.known, d)
			}
			for _, s := range []string{`Preparing the "kubernetes" executor`, "Using Kubernetes namespace: ci", tc.wantLog} {
				if !strings.Contains(got.log, s) {
					t.Errorf("log does not contain %q:\n%s", s, got.log)
				}
			}
			if d := cmp.Diff([]int64{0}, h.assertClean()); d != "" {
				t.Errorf("pod deletions' grace periods -want +got:\n%s", d)
			}
		})
	}
}

func TestRunImagePullNamesImage(t *testing.T) {
	h := newHarness(t, time.Minute)
	done := h.run(context.Background(), nil)
	pod := h.created()
	h.setStatus(pod, corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{shipperEnded(shipped), prepareDone},
		ContainerStatuses: []corev1.ContainerStatus{waitingStatus(buildContainer, "golang:1.26", "ImagePullBackOff", "back-off")}})
	got := h.result(done)
	if got.res.Reason != jobspec.ImagePullFailure || !strings.Contains(got.res.Err.Error(), `"golang:1.26"`) {
		t.Errorf("want image_pull_failure naming golang:1.26, got %+v", got.res)
	}
	h.assertClean()
}

func TestRunAbortDeletesAtOnce(t *testing.T) {
	h := newHarness(t, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	done := h.run(ctx, nil)
	pod := h.created()
	h.setStatus(pod, corev1.PodStatus{Phase: corev1.PodRunning, InitContainerStatuses: []corev1.ContainerStatus{prepareDone},
		ContainerStatuses: []corev1.ContainerStatus{buildRuns}})
	cancel()
	got := h.result(done)
	if got.res.Reason != jobspec.RunnerSystemFailure {
		t.Errorf("aborted job: want runner_system_failure, got %+v", got.res)
	}
	if d := cmp.Diff([]int64{0}, h.assertClean()); d != "" {
		t.Errorf("pod deletions' grace periods -want +got:\n%s", d)
	}
}

func TestRunGracefulCancelWaitsForTheBuildContainer(t *testing.T) {
	h := newHarness(t, time.Minute)
	graceful := make(chan struct{})
	done := h.run(context.Background(), graceful)
	pod := h.created()
	h.setStatus(pod, corev1.PodStatus{Phase: corev1.PodRunning, InitContainerStatuses: []corev1.ContainerStatus{prepareDone},
		ContainerStatuses: []corev1.ContainerStatus{buildRuns}})
	close(graceful)
	// The kubelet got the delete: the pod is marked, the agent runs after_script and exits.
	deadline := time.After(10 * time.Second)
	for marked := false; !marked; {
		select {
		case ev := <-h.pods.ResultChan():
			marked = ev.Object.(*corev1.Pod).DeletionTimestamp != nil
		case <-deadline:
			t.Fatal("pod not marked for deletion")
		}
	}
	select {
	case r := <-done:
		t.Fatalf("Run returned before the build container ended: %+v", r.res)
	default:
	}
	h.setStatus(pod, corev1.PodStatus{Phase: corev1.PodRunning, InitContainerStatuses: []corev1.ContainerStatus{shipperEnded(shipped), prepareDone},
		ContainerStatuses: []corev1.ContainerStatus{terminatedStatus(buildContainer, 143, "Error", "")}})
	got := h.result(done)
	if got.res.Reason != jobspec.ScriptFailure || got.res.ExitCode != 143 {
		t.Errorf("canceled job: want script_failure 143, got %+v", got.res)
	}
	// The pod's grace period: after_script's 20 s, then the trace shipper's time.
	if d := cmp.Diff([]int64{int64((20*time.Second + ShipperGrace).Seconds()), 0}, h.assertClean()); d != "" {
		t.Errorf("pod deletions' grace periods -want +got:\n%s", d)
	}
}

func TestRunUnschedulableTimesOut(t *testing.T) {
	h := newHarness(t, 50*time.Millisecond)
	done := h.run(context.Background(), nil)
	pod := h.created()
	h.setStatus(pod, corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
		Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
		Message: "0/1 nodes are available: 1 Insufficient cpu."}}})
	got := h.result(done)
	if got.res.Reason != jobspec.RunnerSystemFailure || !strings.Contains(got.res.Err.Error(), "Insufficient cpu") {
		t.Errorf("want runner_system_failure with the scheduler's message, got %+v", got.res)
	}
	if !strings.Contains(got.log, "Unschedulable: 0/1 nodes are available") {
		t.Errorf("trace lacks the scheduler's reason:\n%s", got.log)
	}
	h.assertClean()
}

func TestRunPodDeletedBySomeoneElse(t *testing.T) {
	h := newHarness(t, time.Minute)
	done := h.run(context.Background(), nil)
	pod := h.created()
	if err := direct(h.client).CoreV1().Pods("ci").Delete(context.Background(), pod.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))}); err != nil {
		t.Fatal(err)
	}
	got := h.result(done)
	if got.res.Reason != jobspec.RunnerSystemFailure {
		t.Errorf("want runner_system_failure, got %+v", got.res)
	}
	h.assertClean()
}

func TestSweepAtStartDeletesPodsWhoseJobIsOver(t *testing.T) {
	now := time.Now()
	mk := func(name string, phase corev1.PodPhase, age time.Duration) runtime.Object {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ci", Labels: RunnerSelector("r1"),
			CreationTimestamp: metav1.Time{Time: now.Add(-age)}},
			Spec:   corev1.PodSpec{ActiveDeadlineSeconds: ptr(int64(3600))},
			Status: corev1.PodStatus{Phase: phase}}
	}
	orphan := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "kr-job-1", Namespace: "ci", Labels: RunnerSelector("r1"),
		CreationTimestamp: metav1.Time{Time: now.Add(-time.Hour)}}}
	owned := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "kr-job-2", Namespace: "ci", Labels: RunnerSelector("r1"),
		CreationTimestamp: metav1.Time{Time: now.Add(-time.Hour)}, OwnerReferences: []metav1.OwnerReference{{Kind: "Pod", Name: "running"}}}}
	other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "other-runner", Namespace: "ci", Labels: RunnerSelector("r2")},
		Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}
	h := newHarness(t, time.Minute,
		mk("done", corev1.PodSucceeded, time.Minute), mk("failed", corev1.PodFailed, time.Minute),
		mk("running", corev1.PodRunning, time.Minute), mk("stuck", corev1.PodRunning, 2*time.Hour),
		orphan, owned, other)
	ctx := context.Background()
	pods, _ := direct(h.client).CoreV1().Pods("ci").List(ctx, metav1.ListOptions{})
	secrets, _ := direct(h.client).CoreV1().Secrets("ci").List(ctx, metav1.ListOptions{})
	var left []string
	for _, p := range pods.Items {
		left = append(left, "pod "+p.Name)
	}
	for _, s := range secrets.Items {
		left = append(left, "secret "+s.Name)
	}
	if d := cmp.Diff([]string{"pod other-runner", "pod running", "secret kr-job-2"}, left); d != "" {
		t.Errorf("objects after the sweep -want +got:\n%s", d)
	}
}
