package executor

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// serviceLogLines is how much of a crashed service's log the job log shows, once per
// service: the instances of a crash loop print the same, and the kubelet soon drops their
// logs.
const serviceLogLines = 20

// serviceWatch follows the job's services (and its BuildKit daemon) while the job runs: a
// sidecar that exits is reported in the job log at once, with its state and the last lines
// of its log, as gitlab-runner reports an unhealthy service. The job goes on (GitLab's
// behaviour: a warning, then the script runs) unless the build container has not started
// within the service wait timeout, which happens when the kubelet holds it back for a
// sidecar that never runs: then the job fails as runner_system_failure instead of sitting
// in Pending until its timeout.
type serviceWatch struct {
	j        *jobRun
	timeout  time.Duration
	reported map[string]bool // services whose crash the log shows
	first    string          // the service whose crash started the wait
	timer    *time.Timer
}

func newServiceWatch(j *jobRun, timeout time.Duration) *serviceWatch {
	return &serviceWatch{j: j, timeout: timeout, reported: map[string]bool{}}
}

// observe reports sidecars that exited since the last look and starts the wait timeout at
// the first.
func (s *serviceWatch) observe(ctx context.Context, pod *corev1.Pod) {
	for _, st := range pod.Status.InitContainerStatuses {
		if st.Name == prepareContainer {
			continue
		}
		if _, crashed := sidecarCrash(st); !crashed || s.reported[st.Name] {
			continue
		}
		s.reported[st.Name] = true
		// A service that crashes after another recovered gets its own wait.
		if s.timer == nil {
			s.first = st.Name
			s.timer = time.NewTimer(s.timeout)
		}
		s.j.warnf("%s; the last lines of its log:", describeSidecar(pod, st))
		s.printLog(ctx, pod, st.Name)
	}
}

// failure is why the job cannot start: the service whose crash started the wait, as it is now.
func (s *serviceWatch) failure(pod *corev1.Pod) error {
	desc := "service " + s.first
	if st := containerStatus(pod.Status.InitContainerStatuses, s.first); st != nil {
		desc = describeSidecar(pod, *st)
	}
	return fmt.Errorf("%s, and the job did not start within %s of its first exit", desc, s.timeout)
}

func describeSidecar(pod *corev1.Pod, st corev1.ContainerStatus) string {
	exit, _ := sidecarCrash(st)
	return fmt.Sprintf("service %s (%s) %s, restarted %d times", st.Name, specImage(pod, st.Name), exit, st.RestartCount)
}

// expired fires when the wait timeout ran out; nil (never) while no crash is waited for.
func (s *serviceWatch) expired() <-chan time.Time {
	if s.timer == nil {
		return nil
	}
	return s.timer.C
}

// done stops waiting: the build container runs, the services are the script's business.
func (s *serviceWatch) done() { s.stop(); s.timer = nil }

func (s *serviceWatch) stop() {
	if s.timer != nil {
		s.timer.Stop()
	}
}

// sidecarCrash tells whether a sidecar has exited (now or before a restart), and how.
func sidecarCrash(st corev1.ContainerStatus) (string, bool) {
	t := st.State.Terminated
	if t == nil {
		t = st.LastTerminationState.Terminated
	}
	switch {
	case t != nil:
		return fmt.Sprintf("exited with code %d (%s)", t.ExitCode, t.Reason), true
	case st.State.Waiting != nil && st.State.Waiting.Reason == "CrashLoopBackOff":
		return "is in CrashLoopBackOff", true
	}
	return "", false
}

// printLog copies the last lines of a sidecar's log into the job log: of the instance that
// exited when there is one, else of the current one.
func (s *serviceWatch) printLog(ctx context.Context, pod *corev1.Pod, container string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tail := int64(serviceLogLines)
	var rc io.ReadCloser
	var err error
	for _, previous := range []bool{true, false} {
		rc, err = s.j.k.logs.Stream(ctx, pod.Namespace, pod.Name, &corev1.PodLogOptions{
			Container: container, Previous: previous, TailLines: &tail, LimitBytes: ptr(int64(64 << 10)),
		})
		if err == nil {
			break
		}
	}
	if err != nil {
		s.j.printf("  (its log cannot be read: %v)\n", err)
		return
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	for sc.Scan() {
		s.j.printf("  %s\n", strings.TrimRight(sc.Text(), "\r"))
	}
}

// recovered tells whether every service that crashed runs now (started, in the kubelet's
// words): the kubelet then goes on to the job's container, whatever else it still waits for
// (a slow pull of the job's image is not the service's fault).
func (s *serviceWatch) recovered(pod *corev1.Pod) bool {
	for name := range s.reported {
		st := containerStatus(pod.Status.InitContainerStatuses, name)
		if st == nil || st.State.Running == nil || st.Started == nil || !*st.Started {
			return false
		}
	}
	return true
}

// buildStarted tells whether the kubelet started the build container: then a crashed
// service no longer holds the job back.
func buildStarted(pod *corev1.Pod) bool {
	st := containerStatus(pod.Status.ContainerStatuses, buildContainer)
	return st != nil && (st.State.Running != nil || st.State.Terminated != nil)
}
