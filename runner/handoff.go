package runner

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/trace"
)

// leg is one stretch of the trace the runner ships itself: before the pod's part, or after it.
type leg struct {
	buf *trace.Buffer
	sh  *shipper
}

// Who writes the trace at the moment.
type owner int

const (
	ownerRunner   owner = iota // the prologue, or the epilogue after Resume
	ownerPod                   // the pod's shipper; the runner's lines wait in pending
	ownerReported              // the pod sent the final state: nothing more is written
)

// handoff is the job log given to the executor. The runner writes and ships the lines before
// the pod; Handover gives the trace to the pod's shipper; Resume takes it back where the
// shipper stopped, should the pod end without reporting. The runner's lines written while
// the pod owns the trace appear after the pod's part, only if the runner reports.
type handoff struct {
	newLeg func(start int64, crc uint32) (*leg, error)
	coord  GitLab
	jc     gitlab.JobCredentials
	pod    jobpod.Trace // the pod's shipping settings, without Offset and CRC
	log    *slog.Logger

	mu       sync.Mutex
	owner    owner
	cur      *leg
	pending  bytes.Buffer
	state    jobpod.ShipperState // the pod's report, once Reported
	handed   jobpod.ShipperState // where the pod's part began
	crcKnown bool                // the current leg's crc continues a known one
}

func (h *handoff) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch h.owner {
	case ownerPod:
		return h.pending.Write(p)
	case ownerReported:
		return len(p), nil
	}
	return h.cur.buf.Write(p)
}

// Handover delivers the prologue and stops the runner's shipping; the pod continues at the
// returned Offset and CRC.
func (h *handoff) Handover(context.Context) (jobpod.Trace, error) {
	h.mu.Lock()
	l := h.cur
	h.mu.Unlock()
	l.buf.Finish()
	if err := l.sh.flush(); err != nil {
		return jobpod.Trace{}, fmt.Errorf("deliver the trace before the pod: %w", err)
	}
	if l.sh.aborted {
		return jobpod.Trace{}, errCanceled
	}
	t := h.pod
	t.Offset, t.CRC = l.buf.Len(), l.buf.CRC()
	h.mu.Lock()
	h.owner, h.handed = ownerPod, jobpod.ShipperState{Offset: t.Offset, CRC: t.CRC}
	h.mu.Unlock()
	return t, nil
}

// Resume takes the trace back at st, the pod shipper's last acknowledged state. When that
// state was lost (known false), the coordinator's length is asked for and the checksum is
// left out of the final state rather than sent wrong.
func (h *handoff) Resume(ctx context.Context, st jobpod.ShipperState, known bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.owner != ownerPod {
		return nil
	}
	if !known {
		res, err := h.coord.PatchTrace(ctx, h.jc, st.Offset, nil)
		if err != nil {
			h.log.Warn("could not learn the trace length after the pod", "err", err)
		} else if res.RangeMismatch {
			st.Offset = res.SentOffset
		}
	}
	l, err := h.newLeg(st.Offset, st.CRC)
	if err != nil {
		return err
	}
	_, _ = l.buf.Write(h.pending.Bytes())
	h.pending.Reset()
	h.cur, h.owner, h.crcKnown = l, ownerRunner, known
	return nil
}

// Reported records that the pod delivered the job's final state (or that GitLab dropped the
// job): the runner sends nothing more.
func (h *handoff) Reported(st jobpod.ShipperState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.owner, h.state = ownerReported, st
	if n := h.pending.Len(); n > 0 {
		// GitLab takes no trace after the final state: lines the runner wrote while the pod
		// owned the trace (a crashed service's warning) cannot join it. Counted, not
		// printed: they may hold what the trace would have masked.
		h.log.Warn("the pod reported the job's end first: the runner's own lines written meanwhile are not in the trace", "bytes", n)
	}
	h.pending.Reset()
}

// settle takes the trace back from a pod the executor neither resumed nor reported (it
// failed in between): where the pod got to is unknown, so the coordinator is asked.
func (h *handoff) settle(ctx context.Context) error {
	h.mu.Lock()
	st, pod := h.handed, h.owner == ownerPod
	h.mu.Unlock()
	if !pod {
		return nil
	}
	return h.Resume(ctx, st, false)
}

// active is the leg the runner ships now, nil when the pod owns or ended the trace.
func (h *handoff) active() (*leg, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.owner != ownerRunner {
		return nil, false
	}
	return h.cur, h.crcKnown
}

func (h *handoff) podState() (jobpod.ShipperState, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state, h.owner == ownerReported
}
