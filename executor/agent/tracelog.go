package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/kuberunner/kuberunner/executor/jobpod"
)

// lagPoll paces the agent while it waits for the shipper to catch up.
const lagPoll = 50 * time.Millisecond

// cancelPoll is how often the agent looks for the shipper's cancel file.
const cancelPoll = 200 * time.Millisecond

// errJobCanceled is the cause of the script's context when GitLab cancelled the job.
var errJobCanceled = errors.New("the job was canceled")

// traceFile is the agent's end of the pod's trace: output is appended to the trace file,
// and a write waits while the shipper is more than maxLag bytes behind, so a chatty job is
// slowed down rather than losing output.
type traceFile struct {
	f        *os.File
	progress string // the shipper's jobpod.ShipperState
	maxLag   int64
	size     int64 // bytes in the file
	free     int64 // the file may grow to this size before the lag is checked again
}

func openTraceFile(dir string, t *jobpod.Trace) (*traceFile, error) {
	f, err := os.OpenFile(filepath.Join(dir, jobpod.TraceLog), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666)
	if err != nil {
		return nil, fmt.Errorf("open the trace file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open the trace file: %w", err)
	}
	return &traceFile{f: f, progress: filepath.Join(dir, jobpod.TraceProgress), maxLag: t.MaxLag, size: fi.Size()}, nil
}

func (t *traceFile) Write(p []byte) (int, error) {
	if t.maxLag > 0 && t.size >= t.free {
		t.wait()
	}
	n, err := t.f.Write(p)
	t.size += int64(n)
	return n, err
}

// wait returns once the shipper is less than maxLag behind. It reads the shipper's
// progress only when the file grew past the last known bound: once per maxLag bytes at most.
func (t *traceFile) wait() {
	for {
		var st jobpod.ShipperState
		b, err := os.ReadFile(t.progress)
		if err == nil && json.Unmarshal(b, &st) == nil && t.size-st.Consumed < t.maxLag {
			t.free = st.Consumed + t.maxLag
			return
		}
		if err != nil && t.size < t.maxLag {
			t.free = t.maxLag // nothing acknowledged yet, and not far ahead
			return
		}
		time.Sleep(lagPoll)
	}
}

func (t *traceFile) Close() error { return t.f.Close() }

// writeVerdict leaves the agent's verdict for the shipper, complete or not at all.
func writeVerdict(dir string, v jobpod.Verdict) error {
	if err := jobpod.WriteJSON(filepath.Join(dir, jobpod.TraceVerdict), v); err != nil {
		return fmt.Errorf("write the verdict: %w", err)
	}
	return nil
}

// watchCancel cancels the returned context with errJobCanceled once the shipper says GitLab
// cancelled the job.
func watchCancel(ctx context.Context, dir string) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		t := time.NewTicker(cancelPoll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := os.Stat(filepath.Join(dir, jobpod.TraceCancel)); err == nil {
					cancel(errJobCanceled)
					return
				}
			}
		}
	}()
	return ctx, func() { cancel(nil) }
}

// teeLog is the agent's log: the trace file, and the container log for `kubectl logs`
// (masked like the trace, so it holds no secret either).
func teeLog(tf *traceFile, stdout io.Writer) io.Writer { return io.MultiWriter(tf, stdout) }
