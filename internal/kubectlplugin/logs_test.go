package kubectlplugin

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kuberunner/kuberunner/executor/jobpod"
)

// logReactor answers pods/log with "<namespace>/<container> log\n" and records the options.
func logReactor(tp testPlugin, asked *[]corev1.PodLogOptions) {
	tp.client.PrependReactor("get", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "log" {
			return false, nil, nil
		}
		opts := a.(k8stesting.GenericAction).GetValue().(*corev1.PodLogOptions)
		*asked = append(*asked, *opts)
		return true, &runtime.Unknown{Raw: []byte(a.GetNamespace() + "/" + opts.Container + " log\n")}, nil
	})
}

// The build container's log holds the whole job, prepare's part first; a pod of an earlier
// version has a prepare container, whose log comes first.
func TestLogsPrepareThenBuild(t *testing.T) {
	for _, tc := range []struct {
		name    string
		old     bool
		want    string
		wantReq []corev1.PodLogOptions
	}{
		{"prepare in the shipper's hook", false, "ci/build log\n", []corev1.PodLogOptions{{Container: jobpod.BuildContainer}}},
		{"prepare container", true, "ci/prepare log\nci/build log\n",
			[]corev1.PodLogOptions{{Container: jobpod.PrepareContainer}, {Container: jobpod.BuildContainer}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pods := jobPods(t)
			if tc.old {
				for _, o := range pods {
					pod := o.(*corev1.Pod)
					pod.Spec.InitContainers = append(pod.Spec.InitContainers, corev1.Container{Name: jobpod.PrepareContainer})
					pod.Status.InitContainerStatuses = append(pod.Status.InitContainerStatuses,
						corev1.ContainerStatus{Name: jobpod.PrepareContainer, State: done})
				}
			}
			p := newTestPlugin("", pods...) // all namespaces: job 42 is in ci
			var asked []corev1.PodLogOptions
			logReactor(p, &asked)
			if err := p.Logs(context.Background(), 42, false); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, p.out.String()); d != "" {
				t.Errorf("output (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantReq, asked); d != "" {
				t.Errorf("log requests (-want +got):\n%s", d)
			}
		})
	}
}

// Job 43's image cannot be pulled: a note saying why build's log is missing.
func TestLogsContainerNotStarted(t *testing.T) {
	p := newTestPlugin("team-b", jobPods(t)...)
	var asked []corev1.PodLogOptions
	logReactor(p, &asked)
	if err := p.Logs(context.Background(), 43, false); err != nil {
		t.Fatal(err)
	}
	if p.out.String() != "" {
		t.Errorf("output = %q, want none", p.out)
	}
	if want := "job 43: container build of pod team-b/kr-job-43 has not started (ImagePullBackOff)\n"; p.errOut.String() != want {
		t.Errorf("note = %q, want %q", p.errOut, want)
	}
}

// -f waits for a container to start, then follows it.
func TestLogsFollowWaitsForStart(t *testing.T) {
	defer func(d time.Duration) { startPoll = d }(startPoll)
	startPoll = time.Millisecond
	pending := statuses(executorPod(t, "minimal.yaml", 42, "ci", time.Second), corev1.PodPending,
		map[string]corev1.ContainerState{jobpod.ShipperContainer: running, jobpod.BuildContainer: waiting("PodInitializing")})
	p := newTestPlugin("ci", pending)
	var asked []corev1.PodLogOptions
	logReactor(p, &asked)
	gets := 0
	p.client.PrependReactor("get", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "" {
			return false, nil, nil
		}
		if gets++; gets < 3 {
			return true, pending, nil
		}
		return true, statuses(executorPod(t, "minimal.yaml", 42, "ci", time.Second), corev1.PodRunning,
			map[string]corev1.ContainerState{jobpod.ShipperContainer: running, jobpod.BuildContainer: running}), nil
	})
	if err := p.Logs(context.Background(), 42, true); err != nil {
		t.Fatal(err)
	}
	want := []corev1.PodLogOptions{{Container: jobpod.BuildContainer, Follow: true}}
	if d := cmp.Diff(want, asked); d != "" {
		t.Errorf("log requests (-want +got):\n%s", d)
	}
	if gets < 3 {
		t.Errorf("the pod was read %d times, want it read again until build started", gets)
	}
}

func TestLogsNoPod(t *testing.T) {
	for _, tc := range []struct{ namespace, where string }{
		{"ci", `job 77 in namespace "ci"`},
		{"", "job 77 in any namespace"},
	} {
		p := newTestPlugin(tc.namespace, jobPods(t)...)
		err := p.Logs(context.Background(), 77, false)
		if err == nil || !strings.Contains(err.Error(), tc.where) {
			t.Errorf("namespace %q: err = %v, want one containing %q", tc.namespace, err, tc.where)
		}
	}
}

// Two GitLab instances' runners may both have a job 42: the user must pick a namespace.
func TestLogsAmbiguousJob(t *testing.T) {
	p := newTestPlugin("", executorPod(t, "minimal.yaml", 42, "ci", time.Minute), executorPod(t, "minimal.yaml", 42, "other", time.Minute))
	err := p.Logs(context.Background(), 42, false)
	if err == nil || !strings.Contains(err.Error(), "ci/kr-job-42, other/kr-job-42") {
		t.Errorf("err = %v, want one naming both pods", err)
	}
}

func TestParseJobID(t *testing.T) {
	if id, err := ParseJobID("4242"); err != nil || id != 4242 {
		t.Errorf("ParseJobID(4242) = %d, %v", id, err)
	}
	for _, bad := range []string{"", "0", "-1", "kr-job-42"} {
		if _, err := ParseJobID(bad); err == nil {
			t.Errorf("ParseJobID(%q): no error", bad)
		}
	}
}
