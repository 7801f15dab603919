package kubectlplugin

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/kuberunner/kuberunner/executor/jobpod"
)

// benignWaiting are waiting reasons of a container that is simply on its way.
var benignWaiting = map[string]bool{"": true, "PodInitializing": true, "ContainerCreating": true}

// jobPhase is the most useful one word about a job pod: why it is stuck or failed when
// Kubernetes says (ImagePullBackOff, Unschedulable, OOMKilled, Evicted, DeadlineExceeded),
// else the pod's phase.
func jobPhase(pod *corev1.Pod) string {
	if pod.DeletionTimestamp != nil {
		return "Terminating"
	}
	if pod.Status.Reason != "" {
		return pod.Status.Reason
	}
	for _, statuses := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, cs := range statuses {
			if w := cs.State.Waiting; w != nil && !benignWaiting[w.Reason] {
				return w.Reason
			}
		}
	}
	if t := terminatedState(pod, jobpod.BuildContainer); t != nil && t.ExitCode != 0 && t.Reason != "" && t.Reason != "Error" {
		return t.Reason // OOMKilled, ContainerStatusUnknown: more than Failed says
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason != "" {
			return c.Reason
		}
	}
	if pod.Status.Phase == "" {
		return string(corev1.PodUnknown)
	}
	return string(pod.Status.Phase)
}

// containerStatuses are the statuses of the pod's containers in the order they run.
func containerStatuses(pod *corev1.Pod) []corev1.ContainerStatus {
	all := append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...)
	return append(all, pod.Status.ContainerStatuses...)
}

func containerStatus(pod *corev1.Pod, name string) *corev1.ContainerStatus {
	for _, cs := range containerStatuses(pod) {
		if cs.Name == name {
			return &cs
		}
	}
	return nil
}

func terminatedState(pod *corev1.Pod, name string) *corev1.ContainerStateTerminated {
	if cs := containerStatus(pod, name); cs != nil {
		return cs.State.Terminated
	}
	return nil
}

// started says the container ran or runs, so the kubelet has a log of it.
func started(cs *corev1.ContainerStatus) bool {
	return cs != nil && (cs.State.Running != nil || cs.State.Terminated != nil || cs.LastTerminationState.Terminated != nil)
}

// podEnded: nothing in the pod will start any more.
func podEnded(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}
