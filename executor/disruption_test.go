package executor

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kuberunner/kuberunner/jobspec"
)

// TestRunDisruptionIsASystemFailure: a pod stopped by anyone but the runner (kubectl delete,
// kubectl drain, the autoscaler, the kubelet under pressure) fails its job as
// runner_system_failure, so that GitLab's retry runs it again, however the script ended.
func TestRunDisruptionIsASystemFailure(t *testing.T) {
	running := corev1.PodStatus{Phase: corev1.PodRunning, InitContainerStatuses: []corev1.ContainerStatus{prepareDone},
		ContainerStatuses: []corev1.ContainerStatus{buildRuns}}
	stoppedBy := func(code int32, conds ...corev1.PodCondition) corev1.PodStatus {
		return corev1.PodStatus{Phase: corev1.PodRunning, Conditions: conds, InitContainerStatuses: []corev1.ContainerStatus{prepareDone},
			ContainerStatuses: []corev1.ContainerStatus{terminatedStatus(buildContainer, code, "Error", "")}}
	}
	evictionAPI := corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
		Reason: "EvictionByEvictionAPI", Message: "Eviction API: evicting"}
	tests := []struct {
		name    string
		disrupt func(h *harness, pod *corev1.Pod)
		wantErr string
	}{
		{
			name: "deleted with a grace period",
			disrupt: func(h *harness, pod *corev1.Pod) {
				h.deleteWithGrace(pod, 30)
				h.setStatus(pod, stoppedBy(143))
			},
			wantErr: "the pod was deleted by someone else",
		},
		{
			name: "evicted through the eviction API",
			disrupt: func(h *harness, pod *corev1.Pod) {
				h.setStatus(pod, stoppedBy(0, evictionAPI)) // even a script that ended well
			},
			wantErr: "the pod was disrupted: EvictionByEvictionAPI: Eviction API: evicting",
		},
		{
			name: "evicted by the kubelet",
			disrupt: func(h *harness, pod *corev1.Pod) {
				st := stoppedBy(137)
				st.Phase, st.Reason, st.Message = corev1.PodFailed, "Evicted", "The node was low on resource: memory."
				h.setStatus(pod, st)
			},
			wantErr: "the pod was evicted: Evicted: The node was low on resource: memory.",
		},
		{
			name: "marked, then gone before its containers reported",
			disrupt: func(h *harness, pod *corev1.Pod) {
				h.setStatus(pod, corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{evictionAPI},
					InitContainerStatuses: []corev1.ContainerStatus{prepareDone}, ContainerStatuses: []corev1.ContainerStatus{buildRuns}})
				h.deleteWithGrace(pod, 0)
			},
			wantErr: "the pod was disrupted: EvictionByEvictionAPI",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, time.Minute)
			done := h.run(context.Background(), nil)
			pod := h.created()
			h.setStatus(pod, running)
			tc.disrupt(h, pod)
			got := h.result(done)
			if got.res.Reason != jobspec.RunnerSystemFailure || got.res.ExitCode != 0 ||
				got.res.Err == nil || !strings.Contains(got.res.Err.Error(), tc.wantErr) {
				t.Errorf("want runner_system_failure, no exit code, %q; got %+v", tc.wantErr, got.res)
			}
			if strings.Contains(got.log, "anceled") {
				t.Errorf("the trace calls it a cancel:\n%s", got.log)
			}
			h.assertClean()
		})
	}
}

// deleteWithGrace deletes the pod as kubectl delete does; with a grace period the harness
// only marks it, as the API server does while the kubelet stops it.
func (h *harness) deleteWithGrace(pod *corev1.Pod, seconds int64) {
	h.t.Helper()
	err := direct(h.client).CoreV1().Pods(pod.Namespace).Delete(context.Background(), pod.Name,
		metav1.DeleteOptions{GracePeriodSeconds: ptr(seconds)})
	if err != nil {
		h.t.Fatal(err)
	}
}

func TestDisruption(t *testing.T) {
	now := metav1.Now()
	tests := []struct {
		name string
		pod  corev1.Pod
		want string
	}{
		{"running", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning}}, ""},
		{"condition false", corev1.Pod{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{
			{Type: corev1.DisruptionTarget, Status: corev1.ConditionFalse, Reason: "x"}}}}, ""},
		{"preempted", corev1.Pod{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{
			{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "PreemptionByScheduler"}}}},
			"the pod was disrupted: PreemptionByScheduler"},
		{"evicted", corev1.Pod{Status: corev1.PodStatus{Reason: "Evicted"}}, "the pod was evicted: Evicted"},
		{"deleted", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now}}, "the pod was deleted by someone else"},
	}
	for _, tc := range tests {
		if got := disruption(&tc.pod); got != tc.want {
			t.Errorf("%s: disruption = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestDisruptedKeepsReasonsOfTheirOwn(t *testing.T) {
	for _, res := range []jobspec.Result{
		{Reason: jobspec.JobExecutionTimeout},
		{Reason: jobspec.RunnerSystemFailure},
		{Reason: jobspec.ImagePullFailure},
	} {
		if got := disrupted(res, "evicted"); got.Reason != res.Reason {
			t.Errorf("disrupted(%s) = %s", res.Reason, got.Reason)
		}
	}
	for _, res := range []jobspec.Result{{}, {Reason: jobspec.ScriptFailure, ExitCode: 143}} {
		if got := disrupted(res, "evicted"); got.Reason != jobspec.RunnerSystemFailure || got.ExitCode != 0 {
			t.Errorf("disrupted(%+v) = %+v", res, got)
		}
	}
}
