package runner

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/jobspec"
)

// podExecutor plays the Kubernetes executor and its pod: it hands the trace over, ships the
// pod's part straight to the coordinator as the pod's shipper does, then either reports
// like the pod or gives the trace back at the state the shipper left.
type podExecutor struct {
	coord    *fakeCoord
	podPart  string
	report   bool   // the pod sends the final state
	lose     bool   // the shipper's state is lost (known=false)
	pending  string // lines the executor writes while the pod owns the trace
	res      jobspec.Result
	handedAt chan int64 // where the pod's part began
}

type handover interface {
	Handover(ctx context.Context) (jobpod.Trace, error)
	Resume(ctx context.Context, st jobpod.ShipperState, known bool) error
	Reported(st jobpod.ShipperState)
}

func (e *podExecutor) Run(ctx context.Context, job *jobspec.Job, log io.Writer, _ <-chan struct{}) jobspec.Result {
	fmt.Fprint(log, "Preparing\n")
	h := log.(handover)
	t, err := h.Handover(ctx)
	if err != nil {
		return jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: err}
	}
	e.handedAt <- t.Offset
	fmt.Fprint(log, e.pending)
	jc := gitlab.JobCredentials{URL: "http://gitlab.invalid", ID: job.ID, Token: job.Token}
	if _, err := e.coord.PatchTrace(ctx, jc, t.Offset, []byte(e.podPart)); err != nil {
		return jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: err}
	}
	st := jobpod.ShipperState{Offset: t.Offset + int64(len(e.podPart)),
		CRC: crc32.Update(t.CRC, crc32.IEEETable, []byte(e.podPart))}
	if e.report {
		st.Reported = true
		h.Reported(st)
		return e.res
	}
	if e.lose {
		st = jobpod.ShipperState{Offset: t.Offset, CRC: t.CRC}
	}
	if err := h.Resume(ctx, st, !e.lose); err != nil {
		return jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: err}
	}
	return e.res
}

func TestRunnerTakesTheTraceBackAfterThePod(t *testing.T) {
	for _, lose := range []bool{false, true} {
		t.Run(fmt.Sprintf("state lost %v", lose), func(t *testing.T) {
			coord := newFakeCoord()
			e := &podExecutor{coord: coord, podPart: "$ make test\nok\n", lose: lose,
				pending: "WARNING: the pod was OOM-killed\n", handedAt: make(chan int64, 1),
				res: jobspec.Result{Reason: jobspec.ScriptFailure, ExitCode: 137}}
			h := newPodHarness(t, coord, e)
			coord.enqueue(testJob(1))
			h.start(t)
			final := h.waitFinal(t, 1)
			got := coord.trace(1)
			handed := <-e.handedAt
			want := testHeader + "Preparing\n" + e.podPart + e.pending + "\x1b[31;1mERROR: Job failed: exit code 137\x1b[0;m\n"
			if got != want || int64(len(testHeader+"Preparing\n")) != handed {
				t.Fatalf("trace at the coordinator (handed over at %d):\n%q\nwant\n%q", handed, got, want)
			}
			wantSum := fmt.Sprintf("crc32:%08x", crc32.ChecksumIEEE([]byte(want)))
			if lose {
				wantSum = "" // a checksum the runner cannot know is left out, not sent wrong
			}
			if final.Checksum != wantSum || final.Bytesize != int64(len(want)) {
				t.Errorf("final checksum %q and size %d, want %q and %d", final.Checksum, final.Bytesize, wantSum, len(want))
			}
		})
	}
}

func TestRunnerLeavesAJobThePodReportedAlone(t *testing.T) {
	coord := newFakeCoord()
	e := &podExecutor{coord: coord, podPart: "ok\n\x1b[32;1mJob succeeded\x1b[0;m\n", report: true,
		pending: "Waiting for pod\n", handedAt: make(chan int64, 1)}
	h := newPodHarness(t, coord, e)
	coord.enqueue(testJob(2))
	h.start(t)
	if err := coord.waitFor(waitCtx(t), func(f *fakeCoord) bool { return strings.HasSuffix(string(f.traces[2]), "succeeded\x1b[0;m\n") }); err != nil {
		t.Fatal(err)
	}
	h.stop()
	h.wait(t)
	if final, ok := coord.finalState(2); ok {
		t.Errorf("the runner sent a final state the pod had sent: %+v", final)
	}
	if got := coord.trace(2); strings.Contains(got, "Waiting for pod") || strings.Count(got, "Job succeeded") != 1 {
		t.Errorf("the runner wrote after the pod's report:\n%q", got)
	}
}

func newPodHarness(t *testing.T, coord *fakeCoord, e *podExecutor) *harness {
	t.Helper()
	return newHarness(t, testConfig(testRunnerEntry("r1")), coord, nil, func(o *Options) {
		o.Executor = func(config.Runner) (Executor, error) { return e, nil }
	})
}

// A Handover whose flush failed (GitLab refused every trace patch) leaves the runner's leg
// flushed: the job is still reported, and finishing the trace does not flush it again
// (which closed a closed channel and took the runner down).
func TestRunnerReportsAJobWhoseHandoverFailed(t *testing.T) {
	coord := newFakeCoord()
	coord.patch = func(int64, int64, []byte) (gitlab.PatchTraceResult, error, bool) {
		return gitlab.PatchTraceResult{}, fmt.Errorf("patch: %w", gitlab.ErrTransient), true
	}
	e := &podExecutor{coord: coord, handedAt: make(chan int64, 1)}
	h := newPodHarness(t, coord, e)
	coord.enqueue(testJob(3))
	h.start(t)
	final := h.waitFinal(t, 3)
	if final.State != gitlab.StateFailed || final.FailureReason != jobspec.RunnerSystemFailure {
		t.Errorf("final state %+v, want failed: runner_system_failure", final)
	}
}
