package gitlab

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Backoff is a jittered exponential backoff: attempt n waits Min*Factor^n, capped at Max,
// then moved by up to ±Jitter of itself so that many runners do not retry in lockstep.
// Factor < 1 is taken as 2; Jitter is clamped to [0, 1].
type Backoff struct {
	Min, Max time.Duration
	Factor   float64
	Jitter   float64
}

// DefaultBackoff suits the final job update: 1 s, 2 s, 4 s ... up to a minute.
var DefaultBackoff = Backoff{Min: time.Second, Max: time.Minute, Factor: 2, Jitter: 0.2}

// Next is the wait before retry number attempt (0 for the first retry).
func (b Backoff) Next(attempt int) time.Duration {
	factor := b.Factor
	if factor < 1 {
		factor = 2
	}
	d := float64(b.Min) * math.Pow(factor, float64(max(attempt, 0)))
	if b.Max > 0 && d > float64(b.Max) {
		d = float64(b.Max)
	}
	if j := min(max(b.Jitter, 0), 1); j > 0 {
		d += d * j * (2*rand.Float64() - 1)
	}
	if b.Max > 0 && d > float64(b.Max) {
		d = float64(b.Max)
	}
	return time.Duration(d)
}

// Retry calls fn up to maxTries times, waiting b.Next between tries, for as long as fn fails
// with an error matching ErrTransient. Any other error, or success, ends it at once; so does
// ctx (its error is returned, joined with fn's last one). A caller that must retry on a
// result rather than an error (UpdateTraceNotYet) returns an error wrapping ErrTransient.
func Retry(ctx context.Context, b Backoff, maxTries int, fn func(context.Context) error) error {
	var err error
	for attempt := 0; attempt < max(maxTries, 1); attempt++ {
		if attempt > 0 {
			t := time.NewTimer(b.Next(attempt - 1))
			select {
			case <-ctx.Done():
				t.Stop()
				return errors.Join(context.Cause(ctx), err)
			case <-t.C:
			}
		}
		if err = fn(ctx); err == nil || !errors.Is(err, ErrTransient) {
			return err
		}
	}
	return fmt.Errorf("gave up after %d tries: %w", max(maxTries, 1), err)
}
