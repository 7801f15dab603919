package kubectlplugin

import (
	"context"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kuberunner/kuberunner/executor/jobpod"
)

// startPoll paces `logs -f` while it waits for a container to start.
var startPoll = time.Second

// logContainers hold the job's output, in the order it was written. The agent masks it at
// the source and writes it both to the trace file the shipper sends to GitLab and to its
// container's stdout, so the container logs carry the same masked text; they are only as
// complete as the kubelet's log rotation left them, while GitLab's copy is whole. The build
// container's log starts with prepare's output (clone, artifacts, cache); pods of earlier
// versions had it in a prepare container of its own.
func logContainers(pod *corev1.Pod) []string {
	for _, c := range pod.Spec.InitContainers {
		if c.Name == jobpod.PrepareContainer {
			return []string{jobpod.PrepareContainer, jobpod.BuildContainer}
		}
	}
	return []string{jobpod.BuildContainer}
}

// Logs prints the job's output: prepare's (clone, artifacts, cache), then the script's.
// With follow, it waits for each container to start and streams it until it ends.
func (p *Plugin) Logs(ctx context.Context, jobID int64, follow bool) error {
	pod, err := p.jobPod(ctx, jobID)
	if err != nil {
		return err
	}
	for _, name := range logContainers(pod) {
		if follow {
			if pod, err = p.waitStarted(ctx, pod, name); err != nil {
				return err
			}
		}
		cs := containerStatus(pod, name)
		if !started(cs) {
			_, err := fmt.Fprintf(p.ErrOut, "job %d: container %s of pod %s/%s has not started%s\n",
				jobID, name, pod.Namespace, pod.Name, waitingReason(cs))
			return err
		}
		if err := p.copyLog(ctx, pod, name, follow); err != nil {
			return err
		}
	}
	return nil
}

func (p *Plugin) copyLog(ctx context.Context, pod *corev1.Pod, container string, follow bool) error {
	opts := &corev1.PodLogOptions{Container: container, Follow: follow}
	rc, err := p.Client.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, opts).Stream(ctx)
	if err != nil {
		return fmt.Errorf("log of %s/%s container %s: %w", pod.Namespace, pod.Name, container, err)
	}
	defer rc.Close()
	if _, err := io.Copy(p.Out, rc); err != nil {
		return fmt.Errorf("log of %s/%s container %s: %w", pod.Namespace, pod.Name, container, err)
	}
	return nil
}

// waitStarted reads the pod again until the container started or never will.
func (p *Plugin) waitStarted(ctx context.Context, pod *corev1.Pod, container string) (*corev1.Pod, error) {
	for !started(containerStatus(pod, container)) && !podEnded(pod) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(startPoll):
		}
		got, err := p.Client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("wait for container %s of %s/%s: %w", container, pod.Namespace, pod.Name, err)
		}
		pod = got
	}
	return pod, nil
}

func waitingReason(cs *corev1.ContainerStatus) string {
	if cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason != "" {
		return " (" + cs.State.Waiting.Reason + ")"
	}
	return ""
}
