package runner

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/trace"
)

type shipperHarness struct {
	sh       *shipper
	buf      *trace.Buffer
	cancels  atomic.Int32 // onCancel calls
	aborts   atomic.Int32 // onAbort calls
	acked    atomic.Int64 // bytes reported by onSent
	canceled chan struct{}
	aborted  chan struct{}
}

func newShipperHarness(t *testing.T, coord *fakeCoord, timing Timing) *shipperHarness {
	t.Helper()
	buf, err := trace.New(trace.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { buf.Close() })
	h := &shipperHarness{buf: buf, canceled: make(chan struct{}), aborted: make(chan struct{})}
	h.sh = &shipper{
		coord:    coord,
		jc:       gitlab.JobCredentials{URL: "http://gitlab.invalid", ID: 1, Token: "job-token-1-secret"},
		src:      buf,
		timing:   timing.withDefaults(),
		interval: timing.TraceInterval,
		log:      slog.New(slog.DiscardHandler),
		onCancel: func() {
			if h.cancels.Add(1) == 1 {
				close(h.canceled)
			}
		},
		onAbort: func() {
			if h.aborts.Add(1) == 1 {
				close(h.aborted)
			}
		},
		onSent:   func(n int64) { h.acked.Add(n) },
		flushReq: make(chan struct{}),
		done:     make(chan struct{}),
	}
	ctx, cancel := context.WithCancel(context.Background())
	go h.sh.run(ctx)
	t.Cleanup(func() {
		cancel()
		<-h.sh.done
	})
	return h
}

func (h *shipperHarness) write(t *testing.T, s string) {
	t.Helper()
	if _, err := h.buf.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

func (h *shipperHarness) finish(t *testing.T) {
	t.Helper()
	h.buf.Finish()
	if err := h.sh.flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(testDeadline):
		t.Fatalf("%s did not happen within %v", what, testDeadline)
	}
}

// TestShipperLargeTrace: a trace bigger than a patch goes in MaxTracePatchSize pieces, all of
// it before flush returns.
func TestShipperLargeTrace(t *testing.T) {
	coord := newFakeCoord()
	h := newShipperHarness(t, coord, fastTiming())
	data := bytes.Repeat([]byte("0123456789abcdef"), (5*gitlab.MaxTracePatchSize/2)/16)
	h.write(t, string(data))
	h.finish(t)

	if got := coord.trace(1); got != string(data) {
		t.Errorf("trace differs: got %d bytes, want %d", len(got), len(data))
	}
	// The first patch may go while the write is still under way; after that, every patch is
	// as big as allowed until the end, and each starts where the previous one ended.
	var next int64
	for i, p := range coord.patches[1] {
		if p.Offset != next || p.Len > gitlab.MaxTracePatchSize {
			t.Errorf("patch %d: %d bytes at %d, want at most %d at %d", i, p.Len, p.Offset, gitlab.MaxTracePatchSize, next)
		}
		next += int64(p.Len)
	}
	if n := len(coord.patches[1]); n < 3 {
		t.Errorf("%d patches for %d bytes, want at least 3", n, len(data))
	}
	if got := h.acked.Load(); got != int64(len(data)) {
		t.Errorf("acknowledged %d bytes, want %d", got, len(data))
	}
}

// TestShipperRangeMismatch: whatever the server's length after a 416, the shipper resumes
// from it, so the server's trace ends up byte-for-byte the buffer's.
func TestShipperRangeMismatch(t *testing.T) {
	tests := []struct {
		name string
		// fault runs on the 2nd patch with the fake's trace; it may change it and answer.
		fault func(have []byte, off int64, data []byte) ([]byte, gitlab.PatchTraceResult, error)
	}{
		{
			name: "server lost bytes",
			fault: func(have []byte, off int64, data []byte) ([]byte, gitlab.PatchTraceResult, error) {
				have = have[:len(have)-3]
				return have, gitlab.PatchTraceResult{RangeMismatch: true, SentOffset: int64(len(have))}, nil
			},
		},
		{
			name: "answer lost after the server appended",
			fault: func(have []byte, off int64, data []byte) ([]byte, gitlab.PatchTraceResult, error) {
				return append(have, data...), gitlab.PatchTraceResult{}, fmt.Errorf("patch: %w", gitlab.ErrTransient)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			coord := newFakeCoord()
			n := 0
			coord.patch = func(id, off int64, data []byte) (gitlab.PatchTraceResult, error, bool) {
				coord.mu.Lock()
				defer coord.mu.Unlock()
				if n++; n != 2 {
					return gitlab.PatchTraceResult{}, nil, false
				}
				var res gitlab.PatchTraceResult
				var err error
				coord.traces[id], res, err = tc.fault(coord.traces[id], off, data)
				return res, err, true
			}
			h := newShipperHarness(t, coord, fastTiming())
			var want bytes.Buffer
			for i := range 20 {
				line := fmt.Sprintf("line %02d\n", i)
				want.WriteString(line)
				h.write(t, line)
				if i%5 == 4 { // let a patch go out now and then
					if err := coord.waitFor(waitCtx(t), func(f *fakeCoord) bool { return int64(len(f.traces[1])) == h.buf.Len() }); err != nil {
						t.Fatal(err)
					}
				}
			}
			h.finish(t)
			if d := cmp.Diff(want.String(), coord.trace(1)); d != "" {
				t.Errorf("server trace -want +got:\n%s", d)
			}
			if n < 2 {
				t.Errorf("only %d patches: the fault was never injected", n)
			}
		})
	}
}

// TestShipperJobStatus: Job-Status canceling asks for a graceful cancel and shipping goes on;
// canceled aborts the job and stops shipping.
func TestShipperJobStatus(t *testing.T) {
	coord := newFakeCoord()
	var status atomic.Value
	status.Store("canceling")
	coord.patch = func(id, off int64, data []byte) (gitlab.PatchTraceResult, error, bool) {
		s := status.Load().(string)
		return gitlab.PatchTraceResult{SentOffset: off + int64(len(data)), JobStatus: s, Abort: s == "canceled"}, nil, true
	}
	h := newShipperHarness(t, coord, fastTiming())
	h.write(t, "before\n")
	waitClosed(t, h.canceled, "graceful cancel")
	status.Store("canceled")
	h.write(t, "after_script\n")
	waitClosed(t, h.aborted, "abort")
	waitClosed(t, h.sh.done, "shipper stop")
	if !h.sh.aborted {
		t.Error("shipper not marked aborted")
	}
	if got := h.cancels.Load(); got < 1 {
		t.Errorf("onCancel called %d times", got)
	}
}

// TestShipperPace: patches go no more often than the interval, however often the job writes.
func TestShipperPace(t *testing.T) {
	coord := newFakeCoord()
	timing := fastTiming()
	timing.TraceInterval = 40 * time.Millisecond
	h := newShipperHarness(t, coord, timing)
	for i := range 60 {
		h.write(t, fmt.Sprintf("%d\n", i))
		time.Sleep(3 * time.Millisecond) // the job's pace, not a synchronisation
	}
	coord.mu.Lock()
	patches := append([]patchCall(nil), coord.patches[1]...)
	coord.mu.Unlock()
	h.finish(t)
	if len(patches) < 2 {
		t.Fatalf("%d patches while the job wrote for 180 ms, want several", len(patches))
	}
	for i := 1; i < len(patches); i++ {
		if gap := patches[i].At.Sub(patches[i-1].At); gap < timing.TraceInterval {
			t.Errorf("patch %d came %v after the previous one, want at least %v", i, gap, timing.TraceInterval)
		}
	}
}

// TestShipperKeepAlive: a silent job sends PUT state=running every KeepAlive, and a refusal
// of it aborts the job.
func TestShipperKeepAlive(t *testing.T) {
	coord := newFakeCoord()
	var refuse atomic.Bool
	coord.update = func(id int64, req gitlab.UpdateJobRequest) (gitlab.UpdateJobResult, error, bool) {
		return gitlab.UpdateAbort, nil, refuse.Load()
	}
	timing := fastTiming()
	timing.KeepAlive = 20 * time.Millisecond
	h := newShipperHarness(t, coord, timing)
	if err := coord.waitFor(waitCtx(t), func(f *fakeCoord) bool { return len(f.updates[1]) >= 2 }); err != nil {
		t.Fatal(err)
	}
	refuse.Store(true)
	waitClosed(t, h.aborted, "abort after a refused keep-alive")
	for _, u := range coord.updates[1] {
		if u.State != gitlab.StateRunning {
			t.Errorf("keep-alive sent state %s, want running", u.State)
		}
	}
}

// TestShipperGivesUp: a final flush against a coordinator that never recovers ends after
// ReportTries instead of holding the job forever.
func TestShipperGivesUp(t *testing.T) {
	coord := newFakeCoord()
	tries := atomic.Int32{}
	coord.patch = func(id, off int64, data []byte) (gitlab.PatchTraceResult, error, bool) {
		tries.Add(1)
		return gitlab.PatchTraceResult{}, fmt.Errorf("patch: %w", gitlab.ErrTransient), true
	}
	timing := fastTiming()
	h := newShipperHarness(t, coord, timing)
	h.write(t, "lost\n")
	h.buf.Finish()
	if err := h.sh.flush(); err == nil {
		t.Error("flush = nil, want an error")
	}
	if got := tries.Load(); got < int32(timing.ReportTries) {
		t.Errorf("gave up after %d tries, want at least %d", got, timing.ReportTries)
	}
}
