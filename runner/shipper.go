package runner

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/kuberunner/kuberunner/gitlab"
)

// traceSource is the part of trace.Buffer the shipper reads: bytes already masked and final.
type traceSource interface {
	Len() int64
	ReadAt(p []byte, off int64) (int, error)
	Ready() <-chan struct{}
}

// shipper streams one job's trace to the coordinator with PATCH /jobs/:id/trace and is the
// runner's only way to learn that GitLab cancelled the job. One goroutine (run) owns every
// field below the callbacks until done is closed; flush hands over the final results.
type shipper struct {
	coord    GitLab
	jc       gitlab.JobCredentials
	src      traceSource
	timing   Timing
	log      *slog.Logger
	onCancel func()        // Job-Status: canceling: graceful cancel
	onAbort  func()        // cancelled, failed or gone: kill the job
	onSent   func(n int64) // bytes acknowledged by the coordinator
	// onProgress, when set, learns the acknowledged length and its crc32 after each patch.
	onProgress func(sent int64, crc uint32)

	// interval is the pause between patches: Timing.TraceInterval, or what the server says.
	interval time.Duration
	// sent is the coordinator's trace length: everything before it is acknowledged.
	// start and startCRC are where this shipper's source begins (a runner's part may come
	// before a pod's) and the crc32 of the trace before it; crc is the crc32 up to sent.
	sent     int64
	start    int64
	startCRC uint32
	crc      uint32
	next     time.Time // no patch before this (server pace or backoff)
	failures int       // consecutive failed patches
	chunk    []byte

	aborted  bool
	flushErr error

	flushReq  chan struct{}
	flushOnce sync.Once // flushReq closes once, however often flush is called
	done      chan struct{}
}

// run ships until flush has delivered everything, the job is aborted, or ctx ends.
func (s *shipper) run(ctx context.Context) {
	defer close(s.done)
	keepAlive := time.NewTimer(s.timing.KeepAlive)
	defer keepAlive.Stop()
	final := false
	flushReq := s.flushReq
	var pace *time.Timer
	defer func() {
		if pace != nil {
			pace.Stop()
		}
	}()
	for {
		pending := s.src.Len() > s.sent
		if final && !pending {
			return
		}
		var ready <-chan struct{}
		var paceC <-chan time.Time
		if pending {
			wait := time.Until(s.next)
			if final && s.failures == 0 {
				wait = 0 // the job is over: nothing to pace against any more
			}
			if wait <= 0 {
				if s.patch(ctx, final) {
					keepAlive.Reset(s.timing.KeepAlive)
				}
				if s.aborted || s.flushErr != nil || ctx.Err() != nil {
					return
				}
				continue
			}
			if pace == nil {
				pace = time.NewTimer(wait)
			} else {
				pace.Reset(wait)
			}
			paceC = pace.C
		} else {
			ready = s.src.Ready()
		}
		select {
		case <-ctx.Done():
			return
		case <-flushReq:
			final, flushReq = true, nil
		case <-ready:
		case <-paceC:
		case <-keepAlive.C:
			if !final && s.touch(ctx) {
				return
			}
			keepAlive.Reset(s.timing.KeepAlive)
		}
	}
}

// flush asks run to deliver everything up to the buffer's final length (call it after
// Finish) and waits until it did, gave up, or the job was aborted. A second call (the leg of
// a Handover that failed is finished like any other) waits for the same end and returns
// the same result.
func (s *shipper) flush() error {
	s.flushOnce.Do(func() { close(s.flushReq) })
	<-s.done
	return s.flushErr
}

// patch sends the next chunk from the last acknowledged offset and reports whether the
// coordinator acknowledged something.
func (s *shipper) patch(ctx context.Context, final bool) bool {
	off := s.sent
	n := min(s.src.Len()-off, gitlab.MaxTracePatchSize)
	if int64(cap(s.chunk)) < n {
		s.chunk = make([]byte, n)
	}
	data := s.chunk[:n]
	m, err := s.src.ReadAt(data, off)
	if err != nil && !errors.Is(err, io.EOF) {
		s.flushErr = fmt.Errorf("read trace at %d: %w", off, err)
		return false
	}
	data = data[:m]

	res, err := s.coord.PatchTrace(ctx, s.jc, off, data)
	now := time.Now()
	switch {
	case ctx.Err() != nil:
		return false
	case errors.Is(err, gitlab.ErrNotFound), errors.Is(err, gitlab.ErrForbidden):
		s.abort("the job is gone")
		return false
	case err != nil:
		s.fail(now, final, err)
		return false
	}
	if res.UpdateInterval > 0 && s.timing.TraceInterval <= 0 {
		s.interval = res.UpdateInterval
	}
	if res.Abort {
		s.abort("job status " + res.JobStatus)
		return false
	}
	if res.CancelRequested() {
		s.onCancel()
	}
	if res.RangeMismatch {
		// The server holds a different length: resend from there, once at once, then
		// paced by backoff should it keep disagreeing.
		s.log.Debug("trace range mismatch", "sent", off, "server", res.SentOffset)
		s.sent = min(max(res.SentOffset, s.start), s.src.Len())
		s.recomputeCRC()
		s.fail(now, final, errors.New("trace range mismatch"))
		if s.failures == 1 {
			s.next = now
		}
		return false
	}
	s.failures = 0
	acked := off + int64(m)
	if res.SentOffset > off && res.SentOffset <= acked {
		acked = res.SentOffset
	}
	s.crc = crc32.Update(s.crc, crc32.IEEETable, data[:acked-off])
	s.sent = acked
	s.next = now.Add(s.interval)
	s.onSent(acked - off)
	if s.onProgress != nil {
		s.onProgress(s.sent, s.crc)
	}
	return true
}

// recomputeCRC reads the source again from its start after the coordinator moved sent.
func (s *shipper) recomputeCRC() {
	s.crc = s.startCRC
	buf := make([]byte, 64<<10)
	for off := s.start; off < s.sent; {
		n, err := s.src.ReadAt(buf[:min(int64(len(buf)), s.sent-off)], off)
		s.crc = crc32.Update(s.crc, crc32.IEEETable, buf[:n])
		off += int64(n)
		if n == 0 || err != nil && !errors.Is(err, io.EOF) {
			s.flushErr = fmt.Errorf("read trace at %d: %v", off, err)
			return
		}
	}
}

// fail paces the next try with backoff; in the final flush, it gives up after ReportTries.
func (s *shipper) fail(now time.Time, final bool, err error) {
	s.failures++
	if final && s.failures >= s.timing.ReportTries {
		s.flushErr = fmt.Errorf("patch trace of job %d: gave up after %d tries: %w", s.jc.ID, s.failures, err)
		return
	}
	s.next = now.Add(s.timing.Backoff.Next(s.failures - 1))
	s.log.Debug("trace patch failed", "err", err, "retry_at", s.next)
}

// touch is gitlab-runner's keep-alive: a silent job still tells GitLab it is alive, and
// learns when GitLab dropped it. It reports whether the job was aborted.
func (s *shipper) touch(ctx context.Context) bool {
	res, err := s.coord.UpdateJob(ctx, s.jc, gitlab.UpdateJobRequest{State: gitlab.StateRunning})
	switch {
	case errors.Is(err, gitlab.ErrNotFound), errors.Is(err, gitlab.ErrForbidden),
		err == nil && (res == gitlab.UpdateAbort || res == gitlab.UpdateConflict):
		s.abort("the job is gone")
		return true
	case err != nil:
		s.log.Debug("keep-alive failed", "err", err)
	case res == gitlab.UpdateCancelRequested:
		s.onCancel()
	}
	return false
}

func (s *shipper) abort(why string) {
	s.log.Info("job cancelled by the coordinator", "reason", why)
	s.aborted = true
	s.onAbort()
}

// newShipper ships src from start on; crc is the crc32 of the trace before start. Set the
// callbacks before starting run.
func newShipper(coord GitLab, jc gitlab.JobCredentials, src traceSource, timing Timing, interval time.Duration, log *slog.Logger, start int64, crc uint32) *shipper {
	return &shipper{
		coord: coord, jc: jc, src: src, timing: timing, interval: interval, log: log,
		sent: start, start: start, startCRC: crc, crc: crc,
		onCancel: func() {}, onAbort: func() {}, onSent: func(int64) {},
		flushReq: make(chan struct{}), done: make(chan struct{}),
	}
}
