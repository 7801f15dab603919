package runner

import (
	"strings"
	"testing"
	"time"

	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/runner/runnertest"
)

// TestAcceptanceCancelSilentJob: a job that prints nothing has no trace patches to carry
// Job-Status, so the keep-alive PUT state=running must bring the graceful cancel.
func TestAcceptanceCancelSilentJob(t *testing.T) {
	const keepAlive = 100 * time.Millisecond
	never := make(chan struct{})
	exec := &runnertest.Executor{Script: runnertest.Script{Chunks: []runnertest.Chunk{
		{Data: "started\n"},
		{Gate: never, Data: "never printed\n"},
	}}}
	s := newStack(t, nil, func(o *Options) { o.Timing.KeepAlive = keepAlive }, untagged("r1", exec))
	s.h.start(t)
	id := enqueue(s, 1)[0]
	s.waitFor(t, id, "first trace bytes", func(r coordinator.JobRecord) bool {
		return strings.Contains(string(r.Trace), "started")
	})

	s.srv.Cancel(id, true)
	if err := exec.WaitFor(waitCtx(t), func(rs []runnertest.Run) bool { return rs[0].Cancelled }); err != nil {
		t.Fatal(err)
	}
	if run := exec.Runs()[0]; run.Graceful.IsZero() {
		t.Fatalf("run %+v: the graceful channel was not closed", run)
	}
	if rec := s.waitDone(t, id); rec.Status != coordinator.StatusCanceled {
		t.Errorf("status %s, want canceled", rec.Status)
	}
}
