package executor

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/jobspec"
)

const traceVolume = "kr-trace"

// TraceHandover is the job log of a runner that lets the job pod ship the job's trace to
// GitLab itself (runner.handoff implements it). The executor hands the trace over just
// before it creates the pod, and takes it back once the pod ended, unless the pod reported
// the job's final state itself.
type TraceHandover interface {
	// Handover delivers everything written so far and says where the pod's part begins.
	Handover(ctx context.Context) (jobpod.Trace, error)
	// Resume continues the trace after the pod's part, at the shipper's last acknowledged
	// state; known is false when that state was lost.
	Resume(ctx context.Context, st jobpod.ShipperState, known bool) error
	// Reported says the pod delivered the final state, or GitLab dropped the job.
	Reported(st jobpod.ShipperState)
}

// shipperContainer is the pod's trace shipper, a native sidecar in the helper image that
// starts first and stops last (the kubelet stops sidecars after the job's container). It
// runs prepare (the agent and kubectl into the pod, sources, artifacts, cache) as its
// postStart hook: the kubelet starts the next container only once the hook is over, and a
// container of its own would cost the job one more start (a relist of the pod's
// containers, a second by default) before the script runs.
func (pc *PodConfig) shipperContainer(job *jobspec.Job, f features, mounts []corev1.VolumeMount) (corev1.Container, error) {
	res, err := pc.Helper.forJob(helperResourcePrefix, job.Variables)
	if err != nil {
		return corev1.Container{}, err
	}
	return corev1.Container{
		Name:          jobpod.ShipperContainer,
		Image:         pc.HelperImage,
		Command:       []string{jobpod.Agent, "step", "ship"},
		RestartPolicy: ptr(corev1.ContainerRestartPolicyAlways),
		Lifecycle: &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{
			Exec: &corev1.ExecAction{Command: []string{jobpod.Agent, "step", "prepare", "--hook"}}}},
		Resources:       res,
		VolumeMounts:    mounts,
		SecurityContext: f.security.Container.DeepCopy(),
	}, nil
}

// setTrace writes the pod's trace settings into the agent configuration of the job's Secret.
func setTrace(secret *corev1.Secret, t jobpod.Trace) error {
	var cfg jobpod.Config
	if err := json.Unmarshal(secret.Data[jobpod.ConfigFile], &cfg); err != nil {
		return fmt.Errorf("decode agent config: %w", err)
	}
	cfg.Trace = &t
	b, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encode agent config: %w", err)
	}
	secret.Data[jobpod.ConfigFile] = b
	return nil
}

// shipperState reads the shipper's termination message; ended says it has terminated, or
// ended once after delivering the final state (the kubelet restarts a sidecar that exits,
// and the restarted one only waits for the end).
func shipperState(pod *corev1.Pod) (st jobpod.ShipperState, known, ended bool) {
	cs := containerStatus(pod.Status.InitContainerStatuses, jobpod.ShipperContainer)
	if cs == nil {
		return st, false, false
	}
	if t := cs.State.Terminated; t != nil {
		known = t.Message != "" && json.Unmarshal([]byte(t.Message), &st) == nil
		return st, known, true
	}
	if t := cs.LastTerminationState.Terminated; t != nil && t.Message != "" {
		var last jobpod.ShipperState
		if json.Unmarshal([]byte(t.Message), &last) == nil && (last.Reported || last.Gone) {
			return last, true, true
		}
	}
	return st, false, false
}

// shipperStarted reports whether the shipper ever ran: if not, the pod shipped nothing.
func shipperStarted(pod *corev1.Pod) bool {
	cs := containerStatus(pod.Status.InitContainerStatuses, jobpod.ShipperContainer)
	return cs != nil && (cs.State.Running != nil || cs.State.Terminated != nil || cs.RestartCount > 0 || cs.LastTerminationState.Terminated != nil)
}

// shipperEnd waits for the pod's shipper to deliver the rest of the trace and stop, and
// returns its last state; known is false when that state is lost. The kubelet stops the
// shipper once the job's container ended; when the runner ended the job itself (timeout,
// a failed service, an image that cannot be pulled), the pod is deleted with its grace
// period first, so that the shipper still delivers what the job printed.
func (j *jobRun) shipperEnd(feed *podFeed, handed jobpod.ShipperState) (jobpod.ShipperState, bool) {
	timeout := time.NewTimer(j.pc.podGrace() + shipperTimeout)
	defer timeout.Stop()
	asked := false
	for {
		pod, gone, changed := feed.snapshot()
		if pod != nil {
			if st, known, ended := shipperState(pod); ended {
				return st, known
			}
			if !shipperStarted(pod) {
				return handed, true // it shipped nothing, and it will not start now
			}
		}
		if gone || pod == nil {
			return handed, pod == nil
		}
		if !asked && pod != nil && !terminated(pod, buildContainer) {
			asked = true
			if err := deletePod(j.k.client, j.pod, j.pc.podGrace()); err != nil {
				j.warnf("stop pod %s: %v", j.pod.Name, err)
			}
		}
		select {
		case <-changed:
		case <-timeout.C:
			return handed, false
		}
	}
}
