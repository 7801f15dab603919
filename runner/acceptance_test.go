package runner

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/coordinator/coordinatortest"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/runner/runnertest"
)

// These tests run the foundation end to end: the fake GitLab, the real client and trace
// buffer, this loop, and a fake executor.

func TestAcceptanceJob(t *testing.T) {
	exec := &runnertest.Executor{Script: runnertest.Script{Chunks: lines("$ make\n", "ok\n")}}
	s := newStack(t, nil, nil, untagged("r1", exec))
	s.h.start(t)
	id := enqueue(s, 1)[0]

	rec := s.waitDone(t, id)
	want := testHeader + "$ make\nok\n\x1b[32;1mJob succeeded\x1b[0;m\n"
	if d := cmp.Diff(want, string(rec.Trace)); d != "" {
		t.Errorf("trace -want +got:\n%s", d)
	}
	var states []string
	for _, u := range rec.Updates {
		states = append(states, u.State)
	}
	if d := cmp.Diff([]string{"running", "success"}, states); d != "" {
		t.Errorf("states -want +got:\n%s", d)
	}
	if rec.Status != coordinator.StatusSuccess {
		t.Errorf("status %s, want success", rec.Status)
	}
	checkReported(t, rec)
}

// TestAcceptanceRangeMismatch: whether the server lost an answer or a proxy rewrote it to
// a shorter length, the runner resumes from what the server says it has, and GitLab ends
// with every byte exactly once.
func TestAcceptanceRangeMismatch(t *testing.T) {
	tests := []struct {
		name  string
		fault func(w http.ResponseWriter, r *http.Request, next http.Handler)
	}{
		{
			name: "answer lost after the server appended",
			fault: func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				next.ServeHTTP(discard{w.Header()}, r)
				w.WriteHeader(http.StatusBadGateway)
			},
		},
		{
			name: "416 with a shorter length",
			fault: func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				var start int64
				fmt.Sscanf(r.Header.Get("Content-Range"), "%d-", &start)
				w.Header().Set("Range", fmt.Sprintf("0-%d", max(start-5, 0)))
				w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var patches atomic.Int32
			wrap := proxyTrace(func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
				if patches.Add(1) != 2 {
					return false
				}
				tc.fault(w, r, next)
				return true
			})
			var out []string
			for i := range 30 {
				out = append(out, fmt.Sprintf("line %02d\n", i))
			}
			chunks := lines(out...)
			for i := range chunks {
				chunks[i].Delay = 3 * time.Millisecond // several patches at a 20 ms interval
			}
			exec := &runnertest.Executor{Script: runnertest.Script{Chunks: chunks}}
			s := newStack(t, wrap, nil, untagged("r1", exec))
			s.h.start(t)
			id := enqueue(s, 1)[0]

			rec := s.waitDone(t, id)
			want := testHeader + strings.Join(out, "") + "\x1b[32;1mJob succeeded\x1b[0;m\n"
			if d := cmp.Diff(want, string(rec.Trace)); d != "" {
				t.Errorf("trace -want +got:\n%s", d)
			}
			if n := patches.Load(); n < 3 {
				t.Errorf("%d patches: the fault was not followed by a resume", n)
			}
			checkReported(t, rec)
		})
	}
}

// discard swallows the server's answer so the runner never learns it.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h.Clone() }
func (d discard) Write(p []byte) (int, error) { return len(p), nil }
func (d discard) WriteHeader(int)             {}

// TestAcceptanceCancel: a cancel in GitLab reaches the executor within about one trace
// interval: graceful closes its graceful channel, forced cancels its context.
func TestAcceptanceCancel(t *testing.T) {
	const interval = 100 * time.Millisecond
	for _, graceful := range []bool{true, false} {
		t.Run(fmt.Sprintf("graceful=%v", graceful), func(t *testing.T) {
			exec := &runnertest.Executor{Script: runnertest.Script{Loop: true, Chunks: lines("tick\n")}}
			s := newStack(t, nil, func(o *Options) { o.Timing.TraceInterval = interval }, untagged("r1", exec))
			s.h.start(t)
			id := enqueue(s, 1)[0]
			s.waitFor(t, id, "first trace bytes", func(r coordinator.JobRecord) bool {
				return strings.Contains(string(r.Trace), "tick")
			})

			cancelled := time.Now()
			s.srv.Cancel(id, graceful)
			err := exec.WaitFor(waitCtx(t), func(rs []runnertest.Run) bool { return rs[0].Cancelled })
			if err != nil {
				t.Fatal(err)
			}
			run := exec.Runs()[0]
			seen := run.Aborted
			if graceful {
				seen = run.Graceful
			}
			if seen.IsZero() {
				t.Fatalf("run %+v: graceful=%v cancel not seen the right way", run, graceful)
			}
			// One interval plus a request; the factor leaves room for a loaded machine.
			if d := seen.Sub(cancelled); d > 10*interval {
				t.Errorf("cancel seen after %v, want within about %v", d, interval)
			}
			if !graceful && !errors.Is(run.Cause, errCanceled) {
				t.Errorf("context ended with %v, want the cancel cause", run.Cause)
			}
			rec := s.waitDone(t, id)
			if rec.Status != coordinator.StatusCanceled {
				t.Errorf("status %s, want canceled", rec.Status)
			}
		})
	}
}

// TestAcceptanceErrorStorm: 500s on trace patches and on the final update are ridden out
// with backoff, and the final state lands exactly once.
func TestAcceptanceErrorStorm(t *testing.T) {
	release := make(chan struct{})
	exec := &runnertest.Executor{Script: runnertest.Script{Chunks: []runnertest.Chunk{
		{Data: "start\n"}, {Gate: release, Data: "end\n"},
	}}}
	s := newStack(t, nil, nil, untagged("r1", exec))
	s.h.start(t)
	id := enqueue(s, 1)[0]
	s.waitFor(t, id, "start in the trace", func(r coordinator.JobRecord) bool {
		return strings.Contains(string(r.Trace), "start")
	})
	s.srv.FailNext(coordinatortest.EndpointTrace, http.StatusInternalServerError, 3)
	s.srv.FailNext(coordinatortest.EndpointUpdate, http.StatusInternalServerError, 3)
	close(release)

	rec := s.waitDone(t, id)
	if rec.Status != coordinator.StatusSuccess {
		t.Errorf("status %s, want success", rec.Status)
	}
	want := testHeader + "start\nend\n\x1b[32;1mJob succeeded\x1b[0;m\n"
	if d := cmp.Diff(want, string(rec.Trace)); d != "" {
		t.Errorf("trace -want +got:\n%s", d)
	}
	checkReported(t, rec)
}

// TestAcceptanceMasking: secrets split across writes, shipped in between, never reach GitLab.
func TestAcceptanceMasking(t *testing.T) {
	const secret = "sup3r-s3cret-value"
	exec := &runnertest.Executor{ScriptFor: func(job *jobspec.Job) runnertest.Script {
		half := len(job.Token) / 2
		return runnertest.Script{Chunks: []runnertest.Chunk{
			{Data: "password=" + secret[:6]},
			{Delay: 50 * time.Millisecond, Data: secret[6:] + "\ntoken=" + job.Token[:half]},
			{Delay: 50 * time.Millisecond, Data: job.Token[half:] + "\n"},
		}}
	}}
	s := newStack(t, nil, nil, untagged("r1", exec))
	s.h.start(t)
	id := s.srv.Enqueue(jobspec.Job{Variables: jobspec.Variables{{Key: "PASSWORD", Value: secret, Masked: true}}}, nil)

	rec := s.waitDone(t, id)
	trace := string(rec.Trace)
	if strings.Contains(trace, secret) || strings.Contains(trace, rec.Job.Token) {
		t.Errorf("a secret reached GitLab's trace:\n%q", trace)
	}
	for _, part := range []string{secret[:6], secret[6:]} {
		if strings.Contains(trace, part) {
			t.Errorf("part %q of the secret reached GitLab's trace:\n%q", part, trace)
		}
	}
	if !strings.Contains(trace, "password=[MASKED]\n") {
		t.Errorf("trace lacks the masked password line:\n%q", trace)
	}
	checkReported(t, rec)
}

// TestAcceptanceOutputLimit: past output_limit the trace holds the limit notice, nothing more.
func TestAcceptanceOutputLimit(t *testing.T) {
	line := strings.Repeat("x", 99) + "\n"
	exec := &runnertest.Executor{Script: runnertest.Script{Chunks: lines(strings.SplitAfter(strings.Repeat(line, 40), "\n")...)}}
	r1 := untagged("r1", exec)
	r1.entry = func(rc *config.Runner) { rc.OutputLimit = 1 } // KiB
	s := newStack(t, nil, nil, r1)
	s.h.start(t)
	id := enqueue(s, 1)[0]

	rec := s.waitDone(t, id)
	trace := string(rec.Trace)
	if !strings.Contains(trace, "Job's log exceeded limit of 1024 bytes.") {
		t.Errorf("trace lacks the limit notice:\n%q", trace)
	}
	if len(trace) > 1024+300 {
		t.Errorf("trace is %d bytes, want about the 1024 byte limit", len(trace))
	}
	if rec.Status != coordinator.StatusSuccess {
		t.Errorf("status %s, want success: the limit cuts the log, not the job", rec.Status)
	}
	checkReported(t, rec)
}
