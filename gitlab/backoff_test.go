package gitlab

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBackoffNext(t *testing.T) {
	b := Backoff{Min: time.Second, Max: 10 * time.Second, Factor: 2}
	var got []time.Duration
	for attempt := -1; attempt <= 6; attempt++ {
		got = append(got, b.Next(attempt))
	}
	s := time.Second
	want := []time.Duration{s, s, 2 * s, 4 * s, 8 * s, 10 * s, 10 * s, 10 * s}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Next(-1..6) -want +got:\n%s", d)
	}
	if got := (Backoff{Min: time.Second, Max: time.Hour}).Next(3); got != 8*time.Second {
		t.Errorf("zero Factor: Next(3) = %v, want 8s (factor 2)", got)
	}
}

func TestBackoffJitterStaysInBounds(t *testing.T) {
	b := Backoff{Min: time.Second, Max: time.Minute, Factor: 2, Jitter: 0.25}
	seen := map[time.Duration]bool{}
	for range 500 {
		d := b.Next(2) // 4s ± 1s
		if d < 3*time.Second || d > 5*time.Second {
			t.Fatalf("Next(2) = %v, outside 4s ± 25%%", d)
		}
		seen[d] = true
	}
	if len(seen) < 2 {
		t.Error("jitter produced a single value")
	}
	if d := (Backoff{Min: time.Minute, Max: time.Minute, Jitter: 1}).Next(9); d > time.Minute {
		t.Errorf("jitter pushed %v past Max", d)
	}
}

func TestRetry(t *testing.T) {
	tiny := Backoff{Min: time.Microsecond, Max: time.Microsecond}
	transient := fmt.Errorf("PUT jobs/:id: %w", ErrTransient)
	permanent := errors.New("bad request")
	tests := []struct {
		name      string
		errs      []error // fn's answers in order; nil ends
		maxTries  int
		wantCalls int
		wantErr   error
	}{
		{"success at once", []error{nil}, 5, 1, nil},
		{"transient then success", []error{transient, transient, nil}, 5, 3, nil},
		{"permanent stops", []error{transient, permanent, nil}, 5, 2, permanent},
		{"gives up", []error{transient, transient, transient, transient}, 3, 3, ErrTransient},
		{"zero tries means one", []error{transient}, 0, 1, ErrTransient},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := Retry(context.Background(), tiny, tc.maxTries, func(context.Context) error {
				calls++
				return tc.errs[calls-1]
			})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			if calls != tc.wantCalls {
				t.Errorf("calls = %d, want %d", calls, tc.wantCalls)
			}
		})
	}
}

func TestRetryStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := Retry(ctx, Backoff{Min: time.Hour, Max: time.Hour}, 5, func(context.Context) error {
		calls++
		cancel() // the wait before the second try must end with ctx, not after an hour
		return ErrTransient
	})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("err = %v after %d calls; want context.Canceled after 1", err, calls)
	}
}
