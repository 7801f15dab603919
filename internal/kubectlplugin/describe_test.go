package kubectlplugin

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kuberunner/kuberunner/executor/jobpod"
)

func terminatedWith(code int32, reason string, message any) corev1.ContainerState {
	msg, _ := json.Marshal(message)
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, Message: string(msg)}}
}

// A job whose script failed: the shipper reported the failure to GitLab itself.
func TestDescribeFinishedJob(t *testing.T) {
	pod := statuses(executorPod(t, "full.yaml", 42, "ci", 5*time.Minute), corev1.PodFailed, map[string]corev1.ContainerState{
		jobpod.ShipperContainer: terminatedWith(0, "Completed", jobpod.ShipperState{Offset: 5120, Consumed: 4000, Reported: true, State: "failed", Reason: "script_failure", ExitCode: 2}),
		jobpod.BuildContainer:   {Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error"}},
	})
	pod.Spec.NodeName = "node-a"
	pod.Labels[jobpod.LabelManager] = "kuberunner-7d9f-abcde"
	event := func(name, reason, msg string, ago time.Duration) *corev1.Event {
		return &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: "ci"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: pod.Name, Namespace: "ci"},
			Type:           corev1.EventTypeNormal, Reason: reason, Message: msg,
			Source:        corev1.EventSource{Component: "kubelet"},
			LastTimestamp: metav1.NewTime(now.Add(-ago)),
		}
	}
	scheduled := event("e1", "Scheduled", "Successfully assigned ci/kr-job-42 to node-a", 5*time.Minute)
	scheduled.Source.Component = "default-scheduler"
	p := newTestPlugin("ci", pod, event("e2", "Pulled", "Container image \"golang:1.26\"\nalready present", 4*time.Minute), scheduled)
	if err := p.Describe(context.Background(), 42); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "describe-failed.golden", p.out.String())

	// The fake ignores field selectors: check the API server is asked for this pod's only.
	var sel fields.Selector
	for _, a := range p.client.Actions() {
		if a.GetVerb() == "list" && a.GetResource().Resource == "events" {
			sel = a.(k8stesting.ListAction).GetListRestrictions().Fields
		}
	}
	want := "involvedObject.kind=Pod,involvedObject.name=kr-job-42"
	if sel == nil || sel.String() != want {
		t.Errorf("events field selector = %v, want %s", sel, want)
	}
}

// A pod the agent could not start the script in (prepare, in the shipper's hook, failed to
// clone): its failure record is the outcome.
func TestDescribeAgentFailure(t *testing.T) {
	pod := statuses(executorPod(t, "minimal.yaml", 7, "ci", time.Minute), corev1.PodFailed, map[string]corev1.ContainerState{
		jobpod.ShipperContainer: running,
		jobpod.BuildContainer:   terminatedWith(1, "Error", jobpod.Failure{Reason: "runner_system_failure", Message: "get sources: clone: repository\nnot found"}),
	})
	p := newTestPlugin("ci", pod)
	if err := p.Describe(context.Background(), 7); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"build: Terminated (exit 1, Error)",
		"build: runner_system_failure: get sources: clone: repository not found",
		"Events: <none>",
	} {
		if !strings.Contains(oneLine(p.out.String()), want) {
			t.Errorf("describe lacks %q:\n%s", want, p.out)
		}
	}
}

func TestDescribeNoPod(t *testing.T) {
	p := newTestPlugin("ci", jobPods(t)...)
	err := p.Describe(context.Background(), 77)
	if err == nil || !strings.Contains(err.Error(), `job 77 in namespace "ci"`) {
		t.Errorf("err = %v, want one naming job 77 and namespace ci", err)
	}
}

func TestShipperSummary(t *testing.T) {
	for _, tc := range []struct {
		st   jobpod.ShipperState
		want string
	}{
		{jobpod.ShipperState{Offset: 10, Reported: true, State: "success"}, "reported success, exit code 0; 10 bytes of trace acknowledged"},
		{jobpod.ShipperState{Offset: 10, Gone: true}, "GitLab dropped the job (cancelled or deleted); 10 bytes of trace acknowledged"},
		{jobpod.ShipperState{Offset: 3}, "final state not reported by the pod; the runner reports it; 3 bytes of trace acknowledged"},
	} {
		if d := cmp.Diff(tc.want, shipperSummary(tc.st)); d != "" {
			t.Errorf("%+v (-want +got):\n%s", tc.st, d)
		}
	}
}
