package executor

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxLogRetries bounds how often one container's log is re-opened without getting a byte.
const maxLogRetries = 10

// logRetryPause paces re-opening a log whose stream ended before the informer said why.
const logRetryPause = 500 * time.Millisecond

// follower copies the job pod's logs to the job log: the prepare container's, then the
// build container's, each line exactly once. It asks for timestamps so a stream that drops
// while the container still runs can be re-opened from where it stopped (SinceTime has
// whole seconds: lines of that second already written are skipped by count).
type follower struct {
	src       LogSource
	namespace string
	pod       string
	feed      *podFeed
	out       io.Writer
}

// run returns when both logs are complete, the pod is gone, or ctx ends.
func (f *follower) run(ctx context.Context) error {
	for _, c := range []string{prepareContainer, buildContainer} {
		if !f.waitStarted(ctx, c) {
			return nil
		}
		if err := f.follow(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// waitStarted waits until container c has a log; false when it never will.
func (f *follower) waitStarted(ctx context.Context, c string) bool {
	for {
		pod, gone, changed := f.feed.snapshot()
		switch {
		case gone:
			return false
		case pod != nil && started(pod, c):
			return true
		case pod != nil && (pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded):
			return false
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}

func (f *follower) follow(ctx context.Context, c string) error {
	var pos logPosition
	failures := 0
	final := false // the container had ended when this stream was opened
	for {
		opts := &corev1.PodLogOptions{Container: c, Follow: !final, Timestamps: true}
		if !pos.last.IsZero() {
			opts.SinceTime = &metav1.Time{Time: pos.last}
		}
		before := pos
		rc, err := f.src.Stream(ctx, f.namespace, f.pod, opts)
		if err == nil {
			err = pos.copy(f.out, rc)
			rc.Close()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		pod, gone, changed := f.feed.snapshot()
		ended := gone || pod != nil && terminated(pod, c)
		switch {
		case gone || final && err == nil:
			return nil
		case ended && !final:
			// A stream can end cleanly because its connection dropped: once the
			// container has ended, one more read from the position makes sure.
			final = true
			continue
		}
		if pos == before {
			failures++
		} else {
			failures = 0
		}
		if failures >= maxLogRetries {
			return fmt.Errorf("log of container %s: %w", c, errors.Join(err, errors.New("stream keeps ending")))
		}
		// The stream ended while the container runs (a dropped connection), or the
		// informer has not yet seen it end: re-open when it has, or after a pause.
		t := time.NewTimer(logRetryPause)
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
}

// logPosition is how far a container's log has been written: the timestamp of the last
// complete line, how many complete lines carried it, and the bytes already written of a
// line the stream broke off in.
type logPosition struct {
	last    time.Time
	n       int
	partial int
}

// copy writes the new lines of one stream of timestamped lines to out.
func (p *logPosition) copy(out io.Writer, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	replayed := 0 // lines of this stream carrying p.last, already written before
	for {
		stamp, err := br.ReadSlice(' ')
		if err != nil {
			return eofNil(err)
		}
		t, perr := time.Parse(time.RFC3339Nano, string(bytes.TrimSuffix(stamp, []byte(" "))))
		if perr != nil {
			return fmt.Errorf("log line without timestamp: %q", stamp)
		}
		skip := false
		switch {
		case t.Before(p.last):
			skip = true
		case t.Equal(p.last) && replayed < p.n:
			replayed++
			skip = true
		}
		drop := 0 // bytes of this line written before the stream broke
		if !skip {
			drop = p.partial
		}
		complete, err := copyLine(out, br, skip, drop, &p.partial)
		if complete && !skip {
			if t.Equal(p.last) {
				p.n++
			} else {
				p.last, p.n = t, 1
			}
			replayed = p.n
			p.partial = 0
		}
		if err != nil {
			return eofNil(err)
		}
	}
}

// copyLine copies the rest of one line (through '\n') unless skip, leaving out its first
// drop bytes; written counts what it wrote, for a line the stream breaks off in.
func copyLine(out io.Writer, br *bufio.Reader, skip bool, drop int, written *int) (complete bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !skip {
			n := min(drop, len(chunk))
			drop -= n
			if _, werr := out.Write(chunk[n:]); werr != nil {
				return false, werr
			}
			*written += len(chunk) - n
		}
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return false, err
		}
	}
}

func eofNil(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}
