package executor

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/internal/testio"
	"github.com/kuberunner/kuberunner/jobspec"
)

// leftPod creates the objects of a job whose runner went away while its pod ran, as a Run
// of another process of this replica made them, and waits until the informer has the pod.
func (h *harness) leftPod() *corev1.Pod {
	h.t.Helper()
	return h.leftPodOf(h.exec.pc.Manager)
}

// leftPodOf is leftPod as the replica whose jobpod.LabelManager is manager made it; "": a runner
// older than replica labels.
func (h *harness) leftPodOf(manager string) *corev1.Pod {
	h.t.Helper()
	pc := h.exec.pc
	pc.Manager = manager
	objs, err := BuildJob(minimalJob(), pc)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := setTrace(objs.Secret, jobpod.Trace{Offset: handedAt, CRC: 7}); err != nil {
		h.t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := direct(h.client).CoreV1().Secrets("ci").Create(ctx, objs.Secret, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	objs.Pod.CreationTimestamp = metav1.NewTime(time.Now().Add(-time.Minute))
	pod, err := direct(h.client).CoreV1().Pods("ci").Create(ctx, objs.Pod, metav1.CreateOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	h.setStatus(pod, corev1.PodStatus{Phase: corev1.PodRunning,
		InitContainerStatuses: []corev1.ContainerStatus{prepareDone}, ContainerStatuses: []corev1.ContainerStatus{buildRuns}})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := h.exec.pods.Get(pod.Name); err == nil {
			return pod
		}
		if time.Now().After(deadline) {
			h.t.Fatal("the informer did not see the pod")
		}
	}
}

type adopted struct {
	job    *jobspec.Job
	handed jobpod.Trace
	run    runResult
}

// adopt lets the executor adopt what it finds; each adopted job is followed with its own log.
func (h *harness) adopt() <-chan adopted {
	out := make(chan adopted, 4)
	h.exec.Adopt(func(job *jobspec.Job, handed jobpod.Trace, follow FollowFunc) {
		log := &fakeHandover{}
		res := follow(context.Background(), log, nil)
		out <- adopted{job, handed, runResult{res, log.String(), log}}
	})
	return out
}

// TestAdoptFollowsLeftPods: a new runner process carries on the job of a pod an earlier one
// left: from the pod and its Secret alone it knows the job and where the pod's trace began,
// follows the pod to its end, takes the trace back where the shipper stopped when the pod
// could not report, leaves it when the pod did, and cleans up.
func TestAdoptFollowsLeftPods(t *testing.T) {
	tests := []struct {
		name        string
		status      corev1.PodStatus
		want        jobspec.Result
		wantResumed *jobpod.ShipperState
	}{
		{"reported by the pod", corev1.PodStatus{Phase: corev1.PodSucceeded,
			InitContainerStatuses: []corev1.ContainerStatus{shipperEnded(reported), prepareDone},
			ContainerStatuses:     []corev1.ContainerStatus{terminatedStatus(buildContainer, 0, "Completed", "")}},
			jobspec.Result{}, nil},
		{"killed by its memory limit", corev1.PodStatus{Phase: corev1.PodFailed,
			InitContainerStatuses: []corev1.ContainerStatus{shipperEnded(shipped), prepareDone},
			ContainerStatuses:     []corev1.ContainerStatus{terminatedStatus(buildContainer, 137, "OOMKilled", "")}},
			jobspec.Result{Reason: jobspec.ScriptFailure, ExitCode: 137}, &shipped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, time.Minute)
			pod := h.leftPod()
			got := h.adopt()
			h.setStatus(pod, tt.status)
			var a adopted
			select {
			case a = <-got:
			case <-time.After(20 * time.Second):
				t.Fatal("the left pod was not adopted to its end")
			}
			if a.job.ID != minimalJob().ID || a.job.Token != minimalJob().Token || a.handed.Offset != handedAt || a.handed.CRC != 7 {
				t.Errorf("adopted job %d (token %q) handed at %+v; want the left one", a.job.ID, a.job.Token, a.handed)
			}
			if a.run.res.Reason != tt.want.Reason || a.run.res.ExitCode != tt.want.ExitCode {
				t.Errorf("result = %+v, want %+v", a.run.res, tt.want)
			}
			tr := a.run.trace
			switch {
			case tt.wantResumed == nil && (tr.reported == nil || tr.resumed != nil):
				t.Errorf("reported %v resumed %v; want the pod's report left alone", tr.reported, tr.resumed)
			case tt.wantResumed != nil && (tr.resumed == nil || *tr.resumed != *tt.wantResumed || !tr.known):
				t.Errorf("resumed at %v (known %v), want %v", tr.resumed, tr.known, *tt.wantResumed)
			}
			h.assertClean()
		})
	}
}

// TestAdoptGivesUpOnAPodWithoutItsSecret: a left pod whose Secret is gone cannot be adopted
// by this pass or any later one: it is said once, not at every pass until the sweep.
func TestAdoptGivesUpOnAPodWithoutItsSecret(t *testing.T) {
	logs := &testio.Buffer{}
	h := newHarnessOpts(t, Options{UnschedulableTimeout: time.Minute, AdoptInterval: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	pod := h.leftPod()
	if err := direct(h.client).CoreV1().Secrets("ci").Delete(context.Background(), podSecretName(pod), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got := h.adopt()
	time.Sleep(300 * time.Millisecond) // some thirty passes
	select {
	case a := <-got:
		t.Fatalf("a pod without its Secret was adopted: %+v", a.job)
	default:
	}
	if n := strings.Count(logs.String(), "cannot adopt job pod"); n != 1 {
		t.Errorf("said %d times that the pod cannot be adopted, want once:\n%s", n, logs.String())
	}
}
