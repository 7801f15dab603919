package kubectlplugin

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	"github.com/kuberunner/kuberunner/executor/jobpod"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden files")

// now is the tests' clock: every age is measured from it.
var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// executorPod is the pod the executor builds for a job (its golden file, so this package
// reads exactly what the pod builder writes), as job id in namespace ns, created ago.
func executorPod(t *testing.T, golden string, id int64, ns string, ago time.Duration) *corev1.Pod {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "executor", "testdata", golden))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Split(string(b), "\n---\n")[0] // the pod; the Secret follows
	pod := new(corev1.Pod)
	if err := yaml.UnmarshalStrict([]byte(strings.TrimPrefix(doc, "---\n")), pod); err != nil {
		t.Fatalf("%s: %v", golden, err)
	}
	if pod.Kind != "Pod" {
		t.Fatalf("%s: first document is a %s, want the Pod", golden, pod.Kind)
	}
	pod.Name = "kr-job-" + strconv.FormatInt(id, 10)
	pod.Namespace = ns
	pod.Labels[jobpod.LabelJobID] = strconv.FormatInt(id, 10)
	pod.CreationTimestamp = metav1.NewTime(now.Add(-ago))
	return pod
}

// statuses sets the pod's phase and its containers' states by name.
func statuses(pod *corev1.Pod, phase corev1.PodPhase, states map[string]corev1.ContainerState) *corev1.Pod {
	pod.Status.Phase = phase
	for _, c := range pod.Spec.InitContainers {
		if st, ok := states[c.Name]; ok {
			pod.Status.InitContainerStatuses = append(pod.Status.InitContainerStatuses, corev1.ContainerStatus{Name: c.Name, State: st})
		}
	}
	for _, c := range pod.Spec.Containers {
		if st, ok := states[c.Name]; ok {
			pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{Name: c.Name, State: st})
		}
	}
	return pod
}

var (
	running = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	done    = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}
)

func waiting(reason string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
}

// testPlugin is a Plugin on a fake clientset holding objs, its output in out and errOut.
type testPlugin struct {
	*Plugin
	client      *fake.Clientset
	out, errOut *bytes.Buffer
}

func newTestPlugin(namespace string, objs ...runtime.Object) testPlugin {
	tp := testPlugin{client: fake.NewClientset(objs...), out: new(bytes.Buffer), errOut: new(bytes.Buffer)}
	tp.Plugin = &Plugin{Client: tp.client, Namespace: namespace, Out: tp.out, ErrOut: tp.errOut,
		Now: func() time.Time { return now }}
	return tp
}

// checkGolden compares got with testdata/name; -update rewrites it.
func checkGolden(t *testing.T, name string, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s differs (-want +got; go test -update rewrites it):\n%s", path, d)
	}
}

// fakeResponse is what a proxied request answers in tests.
type fakeResponse struct {
	body []byte
	err  error
}

func (r fakeResponse) DoRaw(context.Context) ([]byte, error) { return r.body, r.err }
func (r fakeResponse) Stream(context.Context) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(r.body)), r.err
}
