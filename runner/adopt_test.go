package runner

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/runner/runnertest"
)

// TestShutdownLeavesJobsToTheirPods: with shutdown_jobs: leave, SIGTERM stops polling and
// returns at once, whatever shutdown_timeout says; the running job is neither aborted nor
// reported: its pod carries it on.
func TestShutdownLeavesJobsToTheirPods(t *testing.T) {
	coord := newFakeCoord()
	exec := &runnertest.Executor{Script: runnertest.Script{Loop: true}}
	h := newHarness(t, testConfig(testRunnerEntry("r1")), coord, exec, func(o *Options) {
		o.Config.ShutdownJobs = config.ShutdownLeave
	})
	coord.enqueue(testJob(1))
	h.start(t)
	if err := exec.WaitFor(waitCtx(t), func(rs []runnertest.Run) bool { return len(rs) == 1 }); err != nil {
		t.Fatal(err)
	}
	h.stop()
	h.wait(t) // within the test's deadline, far below the hour of shutdown_timeout
	if final, ok := coord.finalState(1); ok {
		t.Errorf("a job left to its pod was reported: %+v", final)
	}
	if run := exec.Runs()[0]; !errors.Is(run.Cause, jobspec.ErrLeftToPod) {
		t.Errorf("executor context ended with %v, want %v", run.Cause, jobspec.ErrLeftToPod)
	}
}

// closingExecutor records when it was closed and whether every job's Run had returned by then.
type closingExecutor struct {
	*runnertest.Executor
	closes    atomic.Int32
	runsEnded atomic.Bool
}

func (e *closingExecutor) Close() {
	e.closes.Add(1)
	ended := true
	for _, r := range e.Runs() {
		ended = ended && !r.Ended.IsZero()
	}
	e.runsEnded.Store(ended)
}

// TestShutdownClosesTheExecutor: a runner that leaves its jobs closes its executor (which
// deletes its replica's Lease, so other replicas adopt them at once) once, and only after
// its own Runs stopped following their pods.
func TestShutdownClosesTheExecutor(t *testing.T) {
	coord := newFakeCoord()
	exec := &closingExecutor{Executor: &runnertest.Executor{Script: runnertest.Script{Loop: true}}}
	h := newHarness(t, testConfig(testRunnerEntry("r1")), coord, exec.Executor, func(o *Options) {
		o.Config.ShutdownJobs = config.ShutdownLeave
		o.Executor = func(config.Runner) (Executor, error) { return exec, nil }
	})
	coord.enqueue(testJob(1))
	h.start(t)
	if err := exec.WaitFor(waitCtx(t), func(rs []runnertest.Run) bool { return len(rs) == 1 }); err != nil {
		t.Fatal(err)
	}
	if n := exec.closes.Load(); n != 0 {
		t.Fatalf("closed %d times while running", n)
	}
	h.stop()
	h.wait(t)
	if n := exec.closes.Load(); n != 1 || !exec.runsEnded.Load() {
		t.Errorf("closed %d times, after the Runs ended: %v; want once, after", n, exec.runsEnded.Load())
	}
}

// leftJobExecutor finds one job a stopped runner left to its pod, as the Kubernetes
// executor's Adopt does, and follows it: the pod shipped its part, then either reported or
// ended (OOM-killed) without reporting, and the trace is given back where its shipper stopped.
type leftJobExecutor struct {
	runnertest.Executor
	job     *jobspec.Job
	handed  jobpod.Trace
	shipped jobpod.ShipperState
	report  bool
}

func (e *leftJobExecutor) Adopt(adopt func(*jobspec.Job, jobpod.Trace, func(context.Context, io.Writer, <-chan struct{}) jobspec.Result)) {
	go adopt(e.job, e.handed, func(ctx context.Context, log io.Writer, _ <-chan struct{}) jobspec.Result {
		h := log.(handover)
		fmt.Fprint(log, "WARNING: the build container was OOM-killed\n")
		if e.report {
			h.Reported(e.shipped)
			return jobspec.Result{}
		}
		if err := h.Resume(ctx, e.shipped, true); err != nil {
			return jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: err}
		}
		return jobspec.Result{Reason: jobspec.ScriptFailure, ExitCode: 137}
	})
}

// TestRunnerAdoptsLeftJobs: a runner that starts finds a job an earlier process left; when
// its pod could not report, the runner continues the trace after the pod's part, checksum
// over the whole trace, and sends the one final state; when the pod reported, it sends none.
func TestRunnerAdoptsLeftJobs(t *testing.T) {
	for _, report := range []bool{false, true} {
		t.Run(fmt.Sprintf("pod reported %v", report), func(t *testing.T) {
			coord := newFakeCoord()
			job := testJob(7)
			jc := gitlab.JobCredentials{ID: job.ID, Token: job.Token}
			prologue, podPart := testHeader+"Preparing\n", "$ make\nKilled\n"
			// What the earlier runner and then the pod shipped before this process started.
			for _, part := range []string{prologue, podPart} {
				if _, err := coord.PatchTrace(context.Background(), jc, int64(len(coord.trace(7))), []byte(part)); err != nil {
					t.Fatal(err)
				}
			}
			earlier := prologue + podPart
			e := &leftJobExecutor{job: job, report: report,
				handed:  jobpod.Trace{Offset: int64(len(prologue)), CRC: crc32.ChecksumIEEE([]byte(prologue))},
				shipped: jobpod.ShipperState{Offset: int64(len(earlier)), CRC: crc32.ChecksumIEEE([]byte(earlier)), Reported: report}}
			h := newHarness(t, testConfig(testRunnerEntry("r1")), coord, nil, func(o *Options) {
				o.Config.ShutdownJobs = config.ShutdownLeave
				o.Executor = func(config.Runner) (Executor, error) { return e, nil }
			})
			h.start(t)
			if report {
				time.Sleep(200 * time.Millisecond) // time to send what it must not
				h.stop()
				h.wait(t)
				if final, ok := coord.finalState(7); ok || coord.trace(7) != earlier {
					t.Errorf("the runner wrote after a pod that reported: final %+v (%v), trace %q", final, ok, coord.trace(7))
				}
				return
			}
			final := h.waitFinal(t, 7)
			want := earlier + "WARNING: the build container was OOM-killed\n\x1b[31;1mERROR: Job failed: exit code 137\x1b[0;m\n"
			if got := coord.trace(7); got != want {
				t.Fatalf("trace:\n%q\nwant\n%q", got, want)
			}
			if final.State != gitlab.StateFailed || final.ExitCode == nil || *final.ExitCode != 137 ||
				final.Checksum != fmt.Sprintf("crc32:%08x", crc32.ChecksumIEEE([]byte(want))) || final.Bytesize != int64(len(want)) {
				t.Errorf("final state %+v, want failed, exit 137, checksum of the whole trace", final)
			}
		})
	}
}
