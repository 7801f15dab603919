//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/coordinator/coordinatortest"
	"github.com/kuberunner/kuberunner/e2e/e2eutil"
	"github.com/kuberunner/kuberunner/executor"
	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/internal/testio"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/metrics"
	"github.com/kuberunner/kuberunner/runner"
)

// nodeIP is where pods reach the machine: the coordinator listens there, not on loopback.
func nodeIP() string { return e2eutil.NodeIP() }

// execStack is the product end to end: the fake GitLab on the node address, the real client,
// the real runner loop and the Kubernetes executor on the test cluster.
type execStack struct {
	srv    *coordinatortest.Server
	client kubernetes.Interface
	ns     string
	images e2eutil.Images
	logs   *testio.Buffer
	cfg    *config.Config
	stop   func() // stops the running runner process, leaving or aborting jobs as configured
}

// newExecStack starts everything; edit changes the runner entry and the global config.
func newExecStack(t *testing.T, edit func(*config.Config)) *execStack {
	t.Helper()
	s := newStackNoRunner(t, edit, nil)
	s.startRunner(t)
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("runner log:\n%s", s.logs.String())
		}
	})
	return s
}

// newStackNoRunner starts the coordinator (behind wrap, when given) and writes the runner's
// configuration, for a test that runs the runner its own way.
func newStackNoRunner(t testing.TB, edit func(*config.Config), wrap func(http.Handler) http.Handler) *execStack {
	t.Helper()
	images, err := e2eutil.LoadImages()
	if err != nil {
		t.Fatal(err)
	}
	if images.Kuberunner == "" {
		t.Fatal("KR_IMAGE_KUBERUNNER is not set: e2e/cluster/cluster up builds it from the repository")
	}
	c := e2eutil.Client(t)
	s := &execStack{client: c, ns: e2eutil.Namespace(t, c), images: images, logs: &testio.Buffer{}}

	srv, err := coordinatortest.New(coordinator.Options{LongPoll: 500 * time.Millisecond, TraceUpdateInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = srv
	if wrap != nil {
		h = wrap(srv)
	}
	url := e2eutil.ServeOnNode(t, h, func() { srv.Close() })
	s.srv = srv

	// Log keys set as Load would default them: tests save this config as a file to run.
	cfg := &config.Config{Concurrent: 5, CheckInterval: config.Duration(200 * time.Millisecond), LogLevel: "debug", LogFormat: "text", Runners: []config.Runner{{
		Name: "e2e", URL: url, Token: srv.AddRunner(coordinator.RunnerSpec{RunUntagged: true}),
		RequestConcurrency: 2, OutputLimit: 4096, Executor: "kubernetes",
		Kubernetes: config.Kubernetes{
			Kubeconfig: e2eutil.Kubeconfig(), Namespace: s.ns,
			HelperImage: images.Kuberunner, Image: images.Busybox,
			GracefulCancelTimeout: config.Duration(30 * time.Second),
			DeadlineMargin:        config.Duration(30 * time.Second),
		},
	}}}
	if edit != nil {
		edit(cfg)
	}
	s.cfg = cfg
	return s
}

// startRunner starts a runner process on the stack's configuration: the real runner loop and
// the Kubernetes executor, as `kuberunner run` wires them.
func (s *execStack) startRunner(t *testing.T) {
	t.Helper()
	m := metrics.New(prometheus.NewRegistry(), "e2e", "e2e")
	r, err := runner.New(runner.Options{
		Config: s.cfg,
		GitLab: func(config.Runner) (runner.GitLab, error) {
			return gitlab.New(gitlab.Options{Version: "e2e", Timeout: 30 * time.Second, Features: gitlab.DefaultFeatures(), Executor: "kubernetes", Shell: "bash"})
		},
		Executor: func(rc config.Runner) (runner.Executor, error) {
			return executor.NewKubernetes(rc, executor.Options{Logger: slog.New(slog.NewTextHandler(s.logs, nil))})
		},
		Metrics:  m,
		Logger:   slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		SystemID: "s_e2e000000000",
		TraceDir: t.TempDir(),
		Version:  "e2e",
		// A silent job learns of a cancel through the keep-alive; 30 s would dwarf the test.
		Timing: runner.Timing{TraceInterval: 500 * time.Millisecond, KeepAlive: time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
}

// job is a job that needs no repository; the caller adds steps and the rest.
func (s *execStack) job(name string, script ...string) jobspec.Job {
	return jobspec.Job{
		JobInfo:    jobspec.JobInfo{Name: name, Stage: "test", ProjectID: 1, ProjectFullPath: "group/app", PipelineID: 1},
		RunnerInfo: jobspec.RunnerInfo{Timeout: 300},
		Image:      jobspec.Image{Name: s.images.DebianGit},
		Variables: jobspec.Variables{
			{Key: "GIT_STRATEGY", Value: "none", Public: true},
			{Key: "CI_PROJECT_PATH", Value: "group/app", Public: true},
		},
		Steps: []jobspec.Step{{Name: jobspec.StepScript, Script: script, Timeout: 300, When: jobspec.WhenOnSuccess}},
	}
}

// finish waits for the job's final state.
func (s *execStack) finish(t testing.TB, id int64, within time.Duration) coordinator.JobRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	rec, err := s.srv.WaitFor(ctx, id, func(r coordinator.JobRecord) bool { return r.Finished() })
	if err != nil {
		t.Fatalf("job %d did not finish within %s (status %s): %v\ntrace:\n%s", id, within, rec.Status, err, rec.Trace)
	}
	return rec
}

// assertNoJobObjects checks nothing of the job is left in the namespace.
// The pod reports the job's final state itself, so the runner may still be cleaning up
// when the coordinator has it: the pod is given cleanupWait to go.
func (s *execStack) assertNoJobObjects(t *testing.T, id int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cleanupWait)
	defer cancel()
	waitNoJobObjects(ctx, t, s, id)
}

// cleanupWait bounds the runner's cleanup after the job's final state: the pod's grace
// period and the shipper's end.
const cleanupWait = 90 * time.Second

// checkNoJobObjects checks the job's pod and Secret are gone. The runner deletes the Secret
// right after the pod, so a watcher can see the pod go first: the Secret gets a few seconds.
func (s *execStack) checkNoJobObjects(t *testing.T, id int64) {
	t.Helper()
	sel := metav1.ListOptions{LabelSelector: jobpod.LabelJobID + "=" + fmt.Sprint(id)}
	var pods, secrets int
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 10*time.Second, true,
		func(ctx context.Context) (bool, error) {
			p, err := s.client.CoreV1().Pods(s.ns).List(ctx, sel)
			if err != nil {
				return false, err
			}
			sec, err := s.client.CoreV1().Secrets(s.ns).List(ctx, sel)
			if err != nil {
				return false, err
			}
			pods, secrets = len(p.Items), len(sec.Items)
			return pods+secrets == 0, nil
		})
	if err != nil {
		t.Errorf("job %d left %d pods and %d secrets: %v", id, pods, secrets, err)
	}
}

// waitNoJobObjects waits (watching, not polling) until the job's pod is gone, then checks
// its Secret is too.
func waitNoJobObjects(ctx context.Context, t *testing.T, s *execStack, id int64) {
	t.Helper()
	sel := jobpod.LabelJobID + "=" + fmt.Sprint(id)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = sel
			return s.client.CoreV1().Pods(s.ns).List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = sel
			return s.client.CoreV1().Pods(s.ns).Watch(ctx, o)
		},
	}
	empty := func(store cache.Store) (bool, error) { return len(store.List()) == 0, nil }
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, empty, func(ev watch.Event) (bool, error) {
		return ev.Type == watch.Deleted, nil
	})
	if err != nil {
		t.Fatalf("job %d's pod not deleted: %v", id, err)
	}
	s.checkNoJobObjects(t, id)
}

// watchJobObjects runs informers over the runner's pods and Secrets in the test namespace
// until the test ends; a nil handler leaves that kind unwatched. It returns once both have
// listed, so the handlers see every object created from then on.
func (s *execStack) watchJobObjects(t testing.TB, pods, secrets cache.ResourceEventHandler) {
	t.Helper()
	factory := informers.NewSharedInformerFactoryWithOptions(s.client, 0, informers.WithNamespace(s.ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = jobpod.LabelManagedBy + "=" + jobpod.ManagedBy
		}))
	var synced []cache.InformerSynced
	add := func(inf cache.SharedIndexInformer, h cache.ResourceEventHandler) {
		if h == nil {
			return
		}
		if _, err := inf.AddEventHandler(h); err != nil {
			t.Fatalf("add informer handler: %v", err)
		}
		synced = append(synced, inf.HasSynced)
	}
	add(factory.Core().V1().Pods().Informer(), pods)
	add(factory.Core().V1().Secrets().Informer(), secrets)
	stop := make(chan struct{})
	factory.Start(stop)
	t.Cleanup(func() {
		close(stop)
		factory.Shutdown()
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		t.Fatal("informers over the job objects did not sync")
	}
}
