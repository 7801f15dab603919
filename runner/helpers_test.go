package runner

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/internal/testio"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/metrics"
	"github.com/kuberunner/kuberunner/runner/runnertest"
)

// testDeadline bounds every wait of a test; reaching it is a failure, never a pass.
const testDeadline = 20 * time.Second

const testRunnerToken = "glrt-test-runner-token-0123456789"

func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testDeadline)
	t.Cleanup(cancel)
	return ctx
}

// fastTiming keeps tests quick; the waits a test does not exercise are an hour, so that
// reaching one shows up as a timeout instead of passing by accident.
func fastTiming() Timing {
	return Timing{
		TraceInterval: 20 * time.Millisecond,
		KeepAlive:     time.Hour,
		Backoff:       gitlab.Backoff{Min: 5 * time.Millisecond, Max: 20 * time.Millisecond, Factor: 2, Jitter: 0.2},
		ReportTries:   5,
	}
}

func testConfig(runners ...config.Runner) *config.Config {
	return &config.Config{
		Concurrent:      10,
		CheckInterval:   config.Duration(10 * time.Millisecond),
		ShutdownTimeout: config.Duration(time.Hour),
		Runners:         runners,
	}
}

func testRunnerEntry(name string) config.Runner {
	return config.Runner{Name: name, URL: "http://gitlab.invalid", Token: testRunnerToken, RequestConcurrency: 1, OutputLimit: 4096}
}

func allReasons() []jobspec.FailureReason {
	return []jobspec.FailureReason{
		jobspec.ScriptFailure, jobspec.RunnerSystemFailure, jobspec.JobExecutionTimeout,
		jobspec.UnknownFailure, jobspec.RunnerUnsupported,
	}
}

func testJob(id int64) *jobspec.Job {
	return &jobspec.Job{
		ID:       id,
		Token:    fmt.Sprintf("job-token-%d-secret", id),
		JobInfo:  jobspec.JobInfo{Name: fmt.Sprintf("job-%d", id)},
		Features: jobspec.JobFeatures{FailureReasons: allReasons()},
	}
}

// harness is a Manager over the fake coordinator and the fake executor.
type harness struct {
	r     *Manager
	coord *fakeCoord
	exec  *runnertest.Executor
	logs  *testio.Buffer
	// secrets must never reach the logs.
	secrets []string
	stop    context.CancelFunc
	done    chan error
}

// newHarness builds a Manager for cfg; edit tweaks the options before New.
func newHarness(t *testing.T, cfg *config.Config, coord *fakeCoord, exec *runnertest.Executor, edit func(*Options)) *harness {
	t.Helper()
	logs := &testio.Buffer{}
	opts := testOptions(t, cfg, logs, metrics.New(prometheus.NewRegistry(), "test", "test"))
	opts.GitLab = func(config.Runner) (GitLab, error) { return coord, nil }
	opts.Executor = func(config.Runner) (Executor, error) { return exec, nil }
	r := mustNew(t, opts, edit)
	return &harness{r: r, coord: coord, exec: exec, logs: logs, secrets: []string{testRunnerToken, "secret"}}
}

// start runs the Manager until the test ends (or stop is called) and checks Run's result.
func (h *harness) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	h.done = make(chan error, 1)
	go func() { h.done <- h.r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		h.r.Abort()
		select {
		case err := <-h.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(testDeadline):
			t.Errorf("Run did not return within %v of shutdown", testDeadline)
		}
		logs := h.logs.String()
		for _, s := range h.secrets {
			if strings.Contains(logs, s) {
				t.Errorf("secret %q reached the logs:\n%s", s, logs)
			}
		}
	})
}

// wait blocks until Run returns after stop, with the test deadline.
func (h *harness) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-h.done:
		h.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(testDeadline):
		t.Fatalf("Run did not return within %v", testDeadline)
	}
}

// waitFinal waits for the final state of job id at the fake.
func (h *harness) waitFinal(t *testing.T, id int64) gitlab.UpdateJobRequest {
	t.Helper()
	return waitFinalAt(t, h.coord, id)
}

// waitFinalAt waits for the final state of job id at the fake coordinator.
func waitFinalAt(t *testing.T, coord *fakeCoord, id int64) gitlab.UpdateJobRequest {
	t.Helper()
	err := coord.waitFor(waitCtx(t), func(f *fakeCoord) bool {
		for _, u := range f.updates[id] {
			if u.State != gitlab.StateRunning {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("job %d: no final state: %v", id, err)
	}
	final, _ := coord.finalState(id)
	return final
}

func ptr[T any](v T) *T { return &v }

// testOptions are what every runner test starts from: fast timing, a debug log into logs;
// the caller sets GitLab and Executor.
func testOptions(t *testing.T, cfg *config.Config, logs *testio.Buffer, m *metrics.Metrics) Options {
	return Options{
		Config:   cfg,
		Metrics:  m,
		Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		SystemID: "s_0123456789ab",
		TraceDir: t.TempDir(),
		Version:  "1.2.3",
		Timing:   fastTiming(),
	}
}

// mustNew applies edit to opts and builds the Manager, failing the test if New refuses.
func mustNew(t *testing.T, opts Options, edit func(*Options)) *Manager {
	t.Helper()
	if edit != nil {
		edit(&opts)
	}
	r, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}
