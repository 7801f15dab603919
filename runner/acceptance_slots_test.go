package runner

import (
	"strings"
	"testing"
	"time"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/runner/runnertest"
)

func slowJob() runnertest.Script {
	return runnertest.Script{Chunks: []runnertest.Chunk{{Delay: 20 * time.Millisecond, Data: "working\n"}, {Delay: 20 * time.Millisecond, Data: "done\n"}}}
}

// TestAcceptanceConcurrent: 20 jobs with concurrent 5 and more pollers than slots: never
// more than 5 at once, and every job succeeds.
func TestAcceptanceConcurrent(t *testing.T) {
	exec := &runnertest.Executor{Script: slowJob()}
	r1 := untagged("r1", exec)
	r1.entry = func(rc *config.Runner) { rc.RequestConcurrency = 8 }
	s := newStack(t, nil, func(o *Options) { o.Config.Concurrent = 5 }, r1)
	s.h.start(t)
	for _, id := range enqueue(s, 20) {
		if rec := s.waitDone(t, id); rec.Status != coordinator.StatusSuccess {
			t.Errorf("job %d: status %s, want success", id, rec.Status)
		}
	}
	if got := exec.MaxConcurrent(); got > 5 {
		t.Errorf("%d jobs ran at once, want at most 5", got)
	}
	if got := len(exec.Runs()); got != 20 {
		t.Errorf("%d runs, want 20", got)
	}
}

// TestAcceptanceRunnerLimit: a runner's limit caps its own jobs, while another runner of
// the same process goes on past it.
func TestAcceptanceRunnerLimit(t *testing.T) {
	limited := &runnertest.Executor{Script: slowJob()}
	free := &runnertest.Executor{Script: slowJob()}
	r1 := acceptanceRunner{name: "limited", spec: coordinator.RunnerSpec{Tags: []string{"limited"}}, exec: limited,
		entry: func(rc *config.Runner) { rc.Limit, rc.RequestConcurrency = 2, 4 }}
	r2 := untagged("free", free)
	r2.entry = func(rc *config.Runner) { rc.RequestConcurrency = 4 }
	s := newStack(t, nil, func(o *Options) { o.Config.Concurrent = 20 }, r1, r2)
	s.h.start(t)
	ids := append(enqueue(s, 8, "limited"), enqueue(s, 8)...)
	for _, id := range ids {
		if rec := s.waitDone(t, id); rec.Status != coordinator.StatusSuccess {
			t.Errorf("job %d: status %s, want success", id, rec.Status)
		}
	}
	if got := limited.MaxConcurrent(); got > 2 {
		t.Errorf("limited runner ran %d jobs at once, want at most 2", got)
	}
	if got, want := len(limited.Runs())+len(free.Runs()), 16; got != want {
		t.Errorf("%d runs, want %d", got, want)
	}
}

// TestAcceptanceShutdown: a job still running when shutdown_timeout ends is aborted and
// reported failed with runner_system_failure before Run returns.
func TestAcceptanceShutdown(t *testing.T) {
	const grace = 200 * time.Millisecond
	exec := &runnertest.Executor{Script: runnertest.Script{Loop: true, Chunks: lines("tick\n")}}
	s := newStack(t, nil, func(o *Options) { o.Config.ShutdownTimeout = config.Duration(grace) }, untagged("r1", exec))
	s.h.start(t)
	id := s.srv.Enqueue(jobspec.Job{}, nil)
	s.waitFor(t, id, "running", func(r coordinator.JobRecord) bool { return r.Status == coordinator.StatusRunning })

	stopped := time.Now()
	s.h.stop()
	s.h.wait(t)

	rec, _ := s.srv.Job(id)
	if rec.Status != coordinator.StatusFailed || rec.FailureReason != jobspec.RunnerSystemFailure {
		t.Errorf("job ended %s/%s, want failed/runner_system_failure", rec.Status, rec.FailureReason)
	}
	if !strings.HasSuffix(string(rec.Trace), shutdownLine) {
		t.Errorf("trace does not end with the shutdown line:\n%q", rec.Trace)
	}
	if run := exec.Runs()[0]; run.Aborted.Sub(stopped) < grace {
		t.Errorf("job aborted %v after shutdown began, before shutdown_timeout %v", run.Aborted.Sub(stopped), grace)
	}
	checkReported(t, rec)
}
