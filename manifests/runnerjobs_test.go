package manifests_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/coordinator/coordinatortest"
	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/metrics"
	"github.com/kuberunner/kuberunner/runner"
	"github.com/kuberunner/kuberunner/runner/runnertest"
)

// liveRunner is the runner's name in the metrics runJobs produces.
const liveRunner = "live"

// runJobs runs the real runner loop against the fake GitLab, with a fake executor, until
// it has finished a job that succeeds, one that fails with runner_system_failure and one
// cancelled in GitLab while it runs; one job request fails with a 500 first. The metrics
// are those of a runner that did real work, not hand-made observations.
func runJobs(t *testing.T) *prometheus.Registry {
	t.Helper()
	srv, url := coordinatortest.Start(t, coordinator.Options{LongPoll: 200 * time.Millisecond, TraceUpdateInterval: time.Second})
	exec := &runnertest.Executor{ScriptFor: func(job *jobspec.Job) runnertest.Script {
		chunks := []runnertest.Chunk{{Delay: 10 * time.Millisecond, Data: job.JobInfo.Name + "\n"}}
		switch job.JobInfo.Name {
		case "fail":
			return runnertest.Script{Chunks: chunks, Result: jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: errors.New("pod evicted")}}
		case "cancel":
			return runnertest.Script{Chunks: chunks, Loop: true}
		}
		return runnertest.Script{Chunks: chunks}
	}}
	rc := config.Runner{Name: liveRunner, URL: url, Limit: 3, RequestConcurrency: 1, OutputLimit: 4096}
	newJob := func(name string) jobspec.Job { return jobspec.Job{JobInfo: jobspec.JobInfo{Name: name}} }
	return runJobsWith(t, srv, rc, func(config.Runner) (runner.Executor, error) { return exec, nil }, newJob, 20*time.Second)
}

// runJobsWith runs the real runner loop for rc against srv with the given executor until it
// finished the jobs "ok", "fail" and "cancel" (newJob makes them), within d.
func runJobsWith(t *testing.T, srv *coordinatortest.Server, rc config.Runner, newExec func(config.Runner) (runner.Executor, error), newJob func(name string) jobspec.Job, d time.Duration) *prometheus.Registry {
	t.Helper()
	srv.FailNext(coordinatortest.EndpointRequest, 500, 1)
	rc.Token = srv.AddRunner(coordinator.RunnerSpec{RunUntagged: true})
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, "test", "test")
	r, err := runner.New(runner.Options{
		Config:  &config.Config{Concurrent: 4, CheckInterval: config.Duration(10 * time.Millisecond), Runners: []config.Runner{rc}},
		Metrics: m,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		GitLab: func(rc config.Runner) (runner.GitLab, error) {
			return gitlab.New(gitlab.Options{Version: "test", Timeout: 5 * time.Second, Features: gitlab.DefaultFeatures(),
				Executor: "kubernetes", Observer: func(endpoint, method string, status int, d time.Duration) {
					m.ObserveAPIRequest(rc.Name, endpoint, method, status, d)
				}})
		},
		Executor: newExec,
		SystemID: "s_0123456789ab",
		TraceDir: t.TempDir(),
		Timing: runner.Timing{TraceInterval: 20 * time.Millisecond, KeepAlive: time.Hour,
			Backoff: gitlab.Backoff{Min: 5 * time.Millisecond, Max: 20 * time.Millisecond, Factor: 2}},
	})
	if err != nil {
		t.Fatalf("runner.New: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		r.Abort()
		if err := <-done; err != nil {
			t.Errorf("runner Run: %v", err)
		}
	})

	wctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for _, name := range []string{"ok", "fail", "cancel"} {
		id := srv.Enqueue(newJob(name), nil)
		if name == "cancel" {
			if _, err := srv.WaitFor(wctx, id, func(rec coordinator.JobRecord) bool { return len(rec.Trace) > 0 }); err != nil {
				t.Fatalf("job %s never sent its log: %v", name, err)
			}
			srv.Cancel(id, false)
		}
	}
	waitFinished(t, wctx, reg, 3)
	return reg
}

// waitFinished waits until the runner has counted n finished jobs: GitLab may know a job's
// end before the runner records it.
func waitFinished(t *testing.T, ctx context.Context, reg prometheus.Gatherer, n uint64) {
	t.Helper()
	for {
		families, err := reg.Gather()
		if err != nil {
			t.Fatalf("gather: %v", err)
		}
		var finished uint64
		for _, mf := range families {
			if mf.GetName() == "gitlab_runner_job_duration_seconds" {
				for _, s := range mf.GetMetric() {
					finished += s.GetHistogram().GetSampleCount()
				}
			}
		}
		if finished >= n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the runner finished %d jobs, want %d", finished, n)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
