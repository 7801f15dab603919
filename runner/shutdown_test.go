package runner

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/runner/runnertest"
)

const shutdownLine = "\x1b[31;1mERROR: Job failed (system failure): job aborted: the runner is shutting down\x1b[0;m\n"

func TestShutdown(t *testing.T) {
	tests := []struct {
		name      string
		script    runnertest.Script
		grace     time.Duration
		abort     bool // a second signal right after the first
		wantState gitlab.JobState
		wantTail  string
	}{
		{
			name:      "job finishes within the timeout",
			script:    runnertest.Script{Chunks: []runnertest.Chunk{{Delay: 50 * time.Millisecond, Data: "done\n"}}},
			grace:     time.Hour,
			wantState: gitlab.StateSuccess,
			wantTail:  "done\n\x1b[32;1mJob succeeded\x1b[0;m\n",
		},
		{
			name:      "slow job aborted after the timeout",
			script:    runnertest.Script{Loop: true},
			grace:     100 * time.Millisecond,
			wantState: gitlab.StateFailed,
			wantTail:  shutdownLine,
		},
		{
			name:      "second signal aborts at once",
			script:    runnertest.Script{Loop: true},
			grace:     time.Hour,
			abort:     true,
			wantState: gitlab.StateFailed,
			wantTail:  shutdownLine,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			coord := newFakeCoord()
			exec := &runnertest.Executor{Script: tc.script}
			h := newHarness(t, testConfig(testRunnerEntry("r1")), coord, exec, func(o *Options) {
				o.Config.ShutdownTimeout = config.Duration(tc.grace)
			})
			if err := h.r.Ready(); err == nil {
				t.Error("Ready before Run = nil, want an error")
			}
			coord.enqueue(testJob(1))
			h.start(t)
			if err := exec.WaitFor(waitCtx(t), func(rs []runnertest.Run) bool { return len(rs) == 1 }); err != nil {
				t.Fatal(err)
			}
			if err := h.r.Ready(); err != nil {
				t.Errorf("Ready while polling = %v, want nil", err)
			}
			stopped := time.Now()
			h.stop()
			if tc.abort {
				h.r.Abort()
			}
			if err := h.r.Ready(); err == nil {
				t.Error("Ready while shutting down = nil, want an error")
			}
			h.wait(t)

			final, ok := coord.finalState(1)
			if !ok {
				t.Fatal("Run returned before the job was reported")
			}
			if final.State != tc.wantState {
				t.Errorf("final state %s, want %s", final.State, tc.wantState)
			}
			if tc.wantState == gitlab.StateFailed && final.FailureReason != jobspec.RunnerSystemFailure {
				t.Errorf("failure reason %q, want runner_system_failure", final.FailureReason)
			}
			if tr := coord.trace(1); !strings.HasSuffix(tr, tc.wantTail) {
				t.Errorf("trace ends %q, want %q", tr[max(0, len(tr)-len(tc.wantTail)):], tc.wantTail)
			}
			run := exec.Runs()[0]
			if !run.Aborted.IsZero() && !tc.abort && run.Aborted.Sub(stopped) < tc.grace {
				t.Errorf("job aborted %v after shutdown began, before the %v timeout", run.Aborted.Sub(stopped), tc.grace)
			}
			if !run.Aborted.IsZero() && !errors.Is(run.Cause, errShutdown) {
				t.Errorf("executor context ended with %v, want the shutdown cause", run.Cause)
			}
			if n := len(coord.requestCalls()); n == 0 {
				t.Error("no job request recorded")
			}
		})
	}
}
