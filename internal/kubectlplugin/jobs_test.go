package kubectlplugin

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kuberunner/kuberunner/executor/jobpod"
)

// jobPods: a running job, one stuck on its image in another namespace, one OOM-killed, and
// a pod that is no job's.
func jobPods(t *testing.T) []runtime.Object {
	t.Helper()
	runningPod := statuses(executorPod(t, "minimal.yaml", 42, "ci", 3*time.Minute), corev1.PodRunning,
		map[string]corev1.ContainerState{jobpod.ShipperContainer: running, jobpod.PrepareContainer: done, jobpod.BuildContainer: running})
	runningPod.Spec.NodeName = "node-a"
	runningPod.Labels[jobpod.LabelManager] = "kuberunner-7d9f-abcde"

	pulling := statuses(executorPod(t, "full.yaml", 43, "team-b", 40*time.Second), corev1.PodPending,
		map[string]corev1.ContainerState{jobpod.ShipperContainer: running, jobpod.PrepareContainer: done, jobpod.BuildContainer: waiting("ImagePullBackOff")})
	pulling.Spec.NodeName = "node-b"

	oom := statuses(executorPod(t, "minimal.yaml", 41, "ci", 2*time.Hour), corev1.PodFailed,
		map[string]corev1.ContainerState{jobpod.BuildContainer: {Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}}})
	oom.Spec.NodeName = "node-a"
	oom.Annotations[jobpod.AnnotationJobName] = "integration tests"
	oom.Annotations[jobpod.AnnotationStage] = "test"

	other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "kuberunner-7d9f-abcde", Namespace: "ci",
		Labels: map[string]string{"app.kubernetes.io/name": "kuberunner"}}}
	return []runtime.Object{runningPod, pulling, oom, other}
}

func TestJobsTable(t *testing.T) {
	for _, tc := range []struct {
		golden, namespace, output string
	}{
		{"jobs.golden", "ci", OutputTable},
		{"jobs-wide-all.golden", "", OutputWide},
		{"jobs-json-all.golden", "", OutputJSON},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			p := newTestPlugin(tc.namespace, jobPods(t)...)
			if err := p.Jobs(context.Background(), tc.output); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tc.golden, p.out.String())
		})
	}
}

// The JSON field names are an interface scripts rely on.
func TestJobsJSONFieldNames(t *testing.T) {
	p := newTestPlugin("ci", jobPods(t)...)
	if err := p.Jobs(context.Background(), OutputJSON); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(p.out.Bytes(), &rows); err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(maps.Keys(rows[0]))
	want := []string{"created_at", "job_id", "manager", "name", "namespace", "node", "phase", "pipeline_id", "pod", "project", "runner", "stage", "url"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("JSON fields (-want +got):\n%s", d)
	}
}

func TestJobsNone(t *testing.T) {
	p := newTestPlugin("empty", jobPods(t)...)
	if err := p.Jobs(context.Background(), OutputTable); err != nil {
		t.Fatal(err)
	}
	if p.out.Len() != 0 || !strings.Contains(p.errOut.String(), `namespace "empty"`) {
		t.Errorf("out %q, errOut %q: want nothing and a note naming the namespace", p.out, p.errOut)
	}
}

func TestJobsRefusesUnknownOutput(t *testing.T) {
	p := newTestPlugin("ci")
	if err := p.Jobs(context.Background(), "yaml"); err == nil || !strings.Contains(err.Error(), `"yaml"`) {
		t.Errorf("err = %v, want one naming the format", err)
	}
}

func TestJobPhase(t *testing.T) {
	unschedulable := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable"}
	for _, tc := range []struct {
		name string
		pod  corev1.Pod
		want string
	}{
		{"no status", corev1.Pod{}, "Unknown"},
		{"running", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning}}, "Running"},
		{"evicted", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"}}, "Evicted"},
		{"unschedulable", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{unschedulable}}}, "Unschedulable"},
		{"pulling a service", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "svc-0", State: waiting("ErrImagePull")}}}}, "ErrImagePull"},
		{"initializing", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "build", State: waiting("PodInitializing")}}}}, "Pending"},
		{"script failed", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "build", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}}}}}}, "Failed"},
		{"deleted", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &metav1.Time{Time: now}}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}, "Terminating"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := jobPhase(&tc.pod); got != tc.want {
				t.Errorf("jobPhase = %q, want %q", got, tc.want)
			}
		})
	}
}
