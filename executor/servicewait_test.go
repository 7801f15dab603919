package executor

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kuberunner/kuberunner/jobspec"
)

func crashedService(restarts int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: "svc-0", RestartCount: restarts,
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3, Reason: "Error"}}}
}

// TestCrashedServiceIsReportedAndBounded: a service that crashes while the kubelet holds
// the build container back is reported at once with its last log lines, and the job fails
// as runner_system_failure after the service wait timeout instead of its own timeout.
func TestCrashedServiceIsReportedAndBounded(t *testing.T) {
	h := newHarness(t, time.Minute)
	h.exec.jobs.Load().ServiceWait = 200 * time.Millisecond // before the job starts, as a reload would
	h.logs.lines["svc-0"] = []stampedLine{{base, "FATAL: data directory has wrong ownership\n"}}
	done := h.run(context.Background(), nil)
	pod := h.created()
	h.setStatus(pod, corev1.PodStatus{Phase: corev1.PodPending,
		InitContainerStatuses: []corev1.ContainerStatus{prepareDone, crashedService(1)},
		ContainerStatuses:     []corev1.ContainerStatus{waitingStatus(buildContainer, "golang:1.26", "PodInitializing", "")}})
	got := h.result(done)
	if got.res.Reason != jobspec.RunnerSystemFailure || !strings.Contains(got.res.Err.Error(), "service svc-0") {
		t.Errorf("result = %+v, want runner_system_failure naming the service", got.res)
	}
	for _, want := range []string{"exited with code 3 (Error), restarted 1 times", "FATAL: data directory has wrong ownership"} {
		if !strings.Contains(got.log, want) {
			t.Errorf("log lacks %q:\n%s", want, got.log)
		}
	}
}

// TestCrashedServiceDoesNotStopARunningJob: once the build container runs, a crashed service
// is a warning in the log (as on GitLab) and the job's own outcome stands.
func TestCrashedServiceDoesNotStopARunningJob(t *testing.T) {
	h := newHarness(t, time.Minute)
	h.exec.jobs.Load().ServiceWait = 100 * time.Millisecond // before the job starts, as a reload would
	done := h.run(context.Background(), nil)
	pod := h.created()
	h.setStatus(pod, corev1.PodStatus{Phase: corev1.PodRunning,
		InitContainerStatuses: []corev1.ContainerStatus{prepareDone, crashedService(1)},
		ContainerStatuses:     []corev1.ContainerStatus{buildRuns}})
	time.Sleep(300 * time.Millisecond) // past the service wait timeout
	h.setStatus(pod, corev1.PodStatus{Phase: corev1.PodSucceeded,
		InitContainerStatuses: []corev1.ContainerStatus{shipperEnded(complete), prepareDone, crashedService(2)},
		ContainerStatuses:     []corev1.ContainerStatus{terminatedStatus(buildContainer, 0, "Completed", "")}})
	got := h.result(done)
	if !got.res.Success() {
		t.Errorf("result = %+v, want success", got.res)
	}
	if !strings.Contains(got.log, "WARNING: service svc-0") {
		t.Errorf("the crash is not in the log:\n%s", got.log)
	}
}

// TestRecoveredServiceDoesNotFailAJobStillPulling: a service that crashed, then ran, no
// longer holds the job's container back; a job whose image still pulls past the service
// wait timeout is not failed for the service.
func TestRecoveredServiceDoesNotFailAJobStillPulling(t *testing.T) {
	h := newHarness(t, time.Minute)
	h.exec.jobs.Load().ServiceWait = 100 * time.Millisecond // before the job starts, as a reload would
	done := h.run(context.Background(), nil)
	pod := h.created()
	pulling := waitingStatus(buildContainer, "golang:1.26", "ContainerCreating", "")
	h.setStatus(pod, corev1.PodStatus{Phase: corev1.PodPending,
		InitContainerStatuses: []corev1.ContainerStatus{prepareDone, crashedService(1)},
		ContainerStatuses:     []corev1.ContainerStatus{pulling}})
	up := crashedService(1)
	up.State, up.Started = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}, ptr(true)
	h.setStatus(pod, corev1.PodStatus{Phase: corev1.PodPending,
		InitContainerStatuses: []corev1.ContainerStatus{prepareDone, up},
		ContainerStatuses:     []corev1.ContainerStatus{pulling}})
	time.Sleep(300 * time.Millisecond) // past the service wait timeout, the image still pulling
	h.setStatus(pod, corev1.PodStatus{Phase: corev1.PodSucceeded,
		InitContainerStatuses: []corev1.ContainerStatus{shipperEnded(complete), prepareDone, up},
		ContainerStatuses:     []corev1.ContainerStatus{terminatedStatus(buildContainer, 0, "Completed", "")}})
	got := h.result(done)
	if !got.res.Success() {
		t.Errorf("result = %+v, want success: the service recovered before the timeout", got.res)
	}
	if !strings.Contains(got.log, "WARNING: service svc-0") {
		t.Errorf("the crash is not in the log:\n%s", got.log)
	}
}
