package executor

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/jobspec"
)

// verdict is what a pod's state means for its job at one moment.
type verdict struct {
	done bool
	res  jobspec.Result
	// status describes a pod that is not running yet ("Pending: ContainerCreating").
	status string
	// unschedulable is the scheduler's message while no node takes the pod.
	unschedulable string
}

// Waiting reasons of a container whose image cannot be pulled. ErrImagePull comes first and
// Kubernetes retries, but the image rarely appears in the meantime; failing at once tells
// the user in seconds rather than after minutes of back-off.
var imagePullReasons = []string{"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}

// judge classifies a pod into GitLab's outcome: pure, so every reason is table-tested.
func judge(pod *corev1.Pod) verdict {
	// The kubelet stops a pod past its deadline with SIGTERM: the build container's exit
	// code says only that it was stopped.
	if pod.Status.Phase == corev1.PodFailed && pod.Status.Reason == "DeadlineExceeded" {
		return verdict{done: true, res: jobspec.Result{Reason: jobspec.JobExecutionTimeout,
			Err: errors.New("the pod ran past its active deadline")}}
	}
	if st := containerStatus(pod.Status.ContainerStatuses, buildContainer); st != nil && st.State.Terminated != nil {
		return verdict{done: true, res: buildResult(st.State.Terminated)}
	}
	if st := containerStatus(pod.Status.InitContainerStatuses, prepareContainer); st != nil {
		if t := st.State.Terminated; t != nil && t.ExitCode != 0 {
			return verdict{done: true, res: prepareResult(t)}
		}
	}
	switch pod.Status.Phase {
	case corev1.PodFailed:
		return verdict{done: true, res: jobspec.Result{Reason: jobspec.RunnerSystemFailure,
			Err: fmt.Errorf("the pod failed: %s", podReason(pod))}}
	case corev1.PodSucceeded:
		return verdict{done: true}
	}
	if res, ok := imagePullFailure(pod); ok {
		return verdict{done: true, res: res}
	}
	v := verdict{status: string(pod.Status.Phase)}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			v.unschedulable = c.Message
			v.status += ": Unschedulable: " + c.Message
		}
	}
	for _, st := range allStatuses(pod) {
		if w := st.State.Waiting; w != nil && w.Reason != "" && w.Reason != "PodInitializing" {
			v.status += fmt.Sprintf(": %s %s", st.Name, w.Reason)
		}
	}
	return v
}

// disruption says why the pod is being stopped when something other than its own end
// stops it: the eviction API (kubectl drain, the cluster autoscaler), preemption, the
// kubelet under node pressure, the taint manager or a plain delete. "" when nothing does.
// The runner's own graceful cancel also marks the pod deleted; wait tells the two apart.
func disruption(pod *corev1.Pod) string {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
			return fmt.Sprintf("the pod was disrupted: %s", joinNonEmpty(c.Reason, c.Message))
		}
	}
	if pod.Status.Reason == "Evicted" {
		return fmt.Sprintf("the pod was evicted: %s", podReason(pod))
	}
	if pod.DeletionTimestamp != nil {
		return "the pod was deleted by someone else"
	}
	return ""
}

// disrupted is the job's result when its pod was stopped from outside: whatever the
// script's exit code (143 after SIGTERM), it is the system that failed the job, so that
// GitLab's retry on runner_system_failure runs it again. A failure with a reason of its
// own (a timeout, a failed upload, a prepare that failed first) keeps it.
func disrupted(res jobspec.Result, why string) jobspec.Result {
	if !res.Success() && res.Reason != jobspec.ScriptFailure {
		return res
	}
	return jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: errors.New(why)}
}

func buildResult(t *corev1.ContainerStateTerminated) jobspec.Result {
	if t.ExitCode == 0 {
		return jobspec.Result{}
	}
	code := int(t.ExitCode)
	if f, ok := agentFailure(t.Message); ok {
		return jobspec.Result{Reason: f.reason, ExitCode: code, Err: f.err}
	}
	switch t.Reason {
	case "OOMKilled":
		return jobspec.Result{Reason: jobspec.ScriptFailure, ExitCode: code,
			Err: fmt.Errorf("the build container ran out of memory (OOMKilled), exit code %d", code)}
	case "StartError", "ContainerCannotRun":
		return jobspec.Result{Reason: jobspec.RunnerSystemFailure, ExitCode: code,
			Err: fmt.Errorf("the build container could not start: %s", strings.TrimSpace(t.Message))}
	}
	return jobspec.Result{Reason: jobspec.ScriptFailure, ExitCode: code}
}

func prepareResult(t *corev1.ContainerStateTerminated) jobspec.Result {
	if f, ok := agentFailure(t.Message); ok {
		return jobspec.Result{Reason: f.reason, Err: f.err}
	}
	if t.Reason == "OOMKilled" {
		return jobspec.Result{Reason: jobspec.RunnerSystemFailure,
			Err: errors.New("the prepare container ran out of memory (OOMKilled)")}
	}
	return jobspec.Result{Reason: jobspec.RunnerSystemFailure,
		Err: fmt.Errorf("the prepare container exited with code %d (%s)", t.ExitCode, t.Reason)}
}

type failure struct {
	reason jobspec.FailureReason
	err    error
}

// agentFailure reads the jobpod.Failure the agent leaves as its termination message.
func agentFailure(msg string) (failure, bool) {
	f, ok := jobpod.ParseFailure([]byte(msg))
	if !ok {
		return failure{}, false
	}
	return failure{reason: jobspec.FailureReason(f.Reason), err: errors.New(f.Message)}, true
}

func imagePullFailure(pod *corev1.Pod) (jobspec.Result, bool) {
	for _, st := range allStatuses(pod) {
		w := st.State.Waiting
		if w == nil || !slices.Contains(imagePullReasons, w.Reason) {
			continue
		}
		image := st.Image
		if image == "" {
			image = specImage(pod, st.Name)
		}
		return jobspec.Result{Reason: jobspec.ImagePullFailure,
			Err: fmt.Errorf("failed to pull image %q for container %s: %s: %s", image, st.Name, w.Reason, w.Message)}, true
	}
	return jobspec.Result{}, false
}

func podReason(pod *corev1.Pod) string {
	return joinNonEmpty(pod.Status.Reason, pod.Status.Message)
}

// joinNonEmpty joins a reason and its message, either of which may be missing.
func joinNonEmpty(reason, message string) string {
	parts := []string{}
	for _, s := range []string{reason, message} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return "no reason given"
	}
	return strings.Join(parts, ": ")
}

func allStatuses(pod *corev1.Pod) []corev1.ContainerStatus {
	return append(slices.Clone(pod.Status.InitContainerStatuses), pod.Status.ContainerStatuses...)
}

func containerStatus(statuses []corev1.ContainerStatus, name string) *corev1.ContainerStatus {
	for i := range statuses {
		if statuses[i].Name == name {
			return &statuses[i]
		}
	}
	return nil
}

func specImage(pod *corev1.Pod, name string) string {
	for _, c := range append(slices.Clone(pod.Spec.InitContainers), pod.Spec.Containers...) {
		if c.Name == name {
			return c.Image
		}
	}
	return ""
}

// terminated says whether a container has ended, so its log is complete.
func terminated(pod *corev1.Pod, name string) bool {
	st := containerStatus(allStatuses(pod), name)
	return st != nil && st.State.Terminated != nil
}
