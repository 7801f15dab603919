package gitlab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// errStalled is the cancel cause when a transfer moved no byte for the whole timeout.
var errStalled = errors.New("no progress")

// watchdog cancels a transfer that stops moving. Artifacts can be gigabytes, so a total
// deadline would be either too short for big archives or useless for hung connections.
type watchdog struct {
	ctx    context.Context
	d      time.Duration
	timer  *time.Timer
	cancel context.CancelCauseFunc
}

func newWatchdog(parent context.Context, d time.Duration) (context.Context, *watchdog) {
	ctx, cancel := context.WithCancelCause(parent)
	w := &watchdog{ctx: ctx, d: d, cancel: cancel}
	w.timer = time.AfterFunc(d, func() { cancel(errStalled) })
	return ctx, w
}

// kick restarts the countdown; safe from any goroutine.
func (w *watchdog) kick() { w.timer.Reset(w.d) }

func (w *watchdog) stop() {
	w.timer.Stop()
	w.cancel(context.Canceled)
}

// reader kicks the watchdog whenever bytes come through r.
func (w *watchdog) reader(r io.Reader) io.Reader { return &kickReader{r: r, w: w} }

// explain marks err as a transient stall when the watchdog, not the caller, ended the transfer.
func (w *watchdog) explain(parent context.Context, err error) error {
	if err == nil || parent.Err() != nil || !errors.Is(context.Cause(w.ctx), errStalled) {
		return err
	}
	return fmt.Errorf("%w: nothing moved for %s: %w", ErrTransient, w.d, err)
}

type kickReader struct {
	r io.Reader
	w *watchdog
}

func (k *kickReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	if n > 0 {
		k.w.kick()
	}
	return n, err
}
