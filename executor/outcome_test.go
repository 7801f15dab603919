package executor

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/kuberunner/kuberunner/jobspec"
)

func terminatedStatus(name string, code int32, reason, msg string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, Message: msg}}}
}

func waitingStatus(name, image, reason, msg string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, Image: image, State: corev1.ContainerState{
		Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}}
}

// outcome is a verdict made comparable: the error as its message.
type outcome struct {
	Done          bool
	Reason        jobspec.FailureReason
	ExitCode      int
	Err           string
	Unschedulable string
}

func outcomeOf(v verdict) outcome {
	o := outcome{Done: v.done, Reason: v.res.Reason, ExitCode: v.res.ExitCode, Unschedulable: v.unschedulable}
	if v.res.Err != nil {
		o.Err = v.res.Err.Error()
	}
	return o
}

func TestJudge(t *testing.T) {
	prepareOK := terminatedStatus(prepareContainer, 0, "Completed", "")
	tests := []struct {
		name   string
		status corev1.PodStatus
		want   outcome
	}{
		{"build succeeded", corev1.PodStatus{Phase: corev1.PodRunning,
			InitContainerStatuses: []corev1.ContainerStatus{prepareOK},
			ContainerStatuses:     []corev1.ContainerStatus{terminatedStatus(buildContainer, 0, "Completed", "")}},
			outcome{Done: true}},
		{"script exit code", corev1.PodStatus{Phase: corev1.PodFailed,
			ContainerStatuses: []corev1.ContainerStatus{terminatedStatus(buildContainer, 42, "Error", "")}},
			outcome{Done: true, Reason: jobspec.ScriptFailure, ExitCode: 42}},
		{"agent failure in termination message", corev1.PodStatus{Phase: corev1.PodFailed,
			ContainerStatuses: []corev1.ContainerStatus{terminatedStatus(buildContainer, 1, "Error",
				`{"reason":"job_execution_timeout","message":"the script ran longer than its timeout of 1s"}`)}},
			outcome{Done: true, Reason: jobspec.JobExecutionTimeout, ExitCode: 1, Err: "the script ran longer than its timeout of 1s"}},
		{"OOMKilled build", corev1.PodStatus{Phase: corev1.PodFailed,
			ContainerStatuses: []corev1.ContainerStatus{terminatedStatus(buildContainer, 137, "OOMKilled", "")}},
			outcome{Done: true, Reason: jobspec.ScriptFailure, ExitCode: 137, Err: "the build container ran out of memory (OOMKilled), exit code 137"}},
		{"build could not start", corev1.PodStatus{Phase: corev1.PodFailed,
			ContainerStatuses: []corev1.ContainerStatus{terminatedStatus(buildContainer, 128, "StartError", "exec: no such file\n")}},
			outcome{Done: true, Reason: jobspec.RunnerSystemFailure, ExitCode: 128, Err: "the build container could not start: exec: no such file"}},
		{"prepare failed with agent failure", corev1.PodStatus{Phase: corev1.PodFailed,
			InitContainerStatuses: []corev1.ContainerStatus{terminatedStatus(prepareContainer, 1, "Error",
				`{"reason":"runner_system_failure","message":"get sources: clone failed"}`)}},
			outcome{Done: true, Reason: jobspec.RunnerSystemFailure, Err: "get sources: clone failed"}},
		{"prepare OOMKilled", corev1.PodStatus{Phase: corev1.PodFailed,
			InitContainerStatuses: []corev1.ContainerStatus{terminatedStatus(prepareContainer, 137, "OOMKilled", "")}},
			outcome{Done: true, Reason: jobspec.RunnerSystemFailure, Err: "the prepare container ran out of memory (OOMKilled)"}},
		{"deadline exceeded", corev1.PodStatus{Phase: corev1.PodFailed, Reason: "DeadlineExceeded", Message: "Pod was active on the node longer than the specified deadline"},
			outcome{Done: true, Reason: jobspec.JobExecutionTimeout, Err: "the pod ran past its active deadline"}},
		{"deadline exceeded, build container stopped", corev1.PodStatus{Phase: corev1.PodFailed, Reason: "DeadlineExceeded",
			ContainerStatuses: []corev1.ContainerStatus{terminatedStatus(buildContainer, 143, "Error", "")}},
			outcome{Done: true, Reason: jobspec.JobExecutionTimeout, Err: "the pod ran past its active deadline"}},
		{"evicted", corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: "The node was low on resource: memory."},
			outcome{Done: true, Reason: jobspec.RunnerSystemFailure, Err: "the pod failed: Evicted: The node was low on resource: memory."}},
		{"pod succeeded", corev1.PodStatus{Phase: corev1.PodSucceeded}, outcome{Done: true}},
		{"ErrImagePull on build", corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{prepareOK},
			ContainerStatuses:     []corev1.ContainerStatus{waitingStatus(buildContainer, "nope:1", "ErrImagePull", "not found")}},
			outcome{Done: true, Reason: jobspec.ImagePullFailure, Err: `failed to pull image "nope:1" for container build: ErrImagePull: not found`}},
		{"ImagePullBackOff on a service", corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{prepareOK, waitingStatus("svc-0", "db:9", "ImagePullBackOff", "Back-off pulling image")}},
			outcome{Done: true, Reason: jobspec.ImagePullFailure, Err: `failed to pull image "db:9" for container svc-0: ImagePullBackOff: Back-off pulling image`}},
		{"InvalidImageName on prepare", corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{waitingStatus(prepareContainer, "", "InvalidImageName", "bad")}},
			outcome{Done: true, Reason: jobspec.ImagePullFailure, Err: `failed to pull image "helper:1" for container prepare: InvalidImageName: bad`}},
		{"unschedulable", corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
			Message: "0/1 nodes are available: 1 Insufficient cpu."}}},
			outcome{Unschedulable: "0/1 nodes are available: 1 Insufficient cpu."}},
		{"still creating", corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{waitingStatus(prepareContainer, "helper:1", "ContainerCreating", "")}},
			outcome{}},
		{"running", corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{Name: buildContainer, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
			outcome{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{
				Spec: corev1.PodSpec{
					InitContainers: []corev1.Container{{Name: prepareContainer, Image: "helper:1"}},
					Containers:     []corev1.Container{{Name: buildContainer, Image: "job:1"}},
				},
				Status: tc.status,
			}
			if d := cmp.Diff(tc.want, outcomeOf(judge(pod))); d != "" {
				t.Errorf("judge -want +got:\n%s", d)
			}
		})
	}
}
