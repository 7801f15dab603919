package runner

import (
	"context"
	"sync"
)

// slots is a counting semaphore whose size a configuration reload may change while jobs
// hold slots: a smaller size lets no new job start until enough running ones finished,
// a larger one lets waiting pollers go at once. Size 0 (or less) means no limit.
type slots struct {
	mu    sync.Mutex
	used  int
	size  int
	freed chan struct{} // closed and replaced whenever a slot may have become free
}

func newSlots(n int) *slots {
	return &slots{size: n, freed: make(chan struct{})}
}

func (s *slots) acquire(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.mu.Lock()
		if s.size <= 0 || s.used < s.size {
			s.used++
			s.mu.Unlock()
			return nil
		}
		freed := s.freed
		s.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *slots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used--
	s.notifyLocked()
}

// resize sets the size; slots held beyond it are kept until released.
func (s *slots) resize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.size = n
	s.notifyLocked()
}

func (s *slots) notifyLocked() {
	close(s.freed)
	s.freed = make(chan struct{})
}

// slot is one job's share of both caps: the runner's own limit and the global concurrent.
type slot struct{ own, global *slots }

// acquireSlot takes the runner's slot first, then the global one; every poller takes them
// in this order, so none holds a global slot while waiting for its runner's.
func acquireSlot(ctx context.Context, own, global *slots) (*slot, error) {
	if err := own.acquire(ctx); err != nil {
		return nil, err
	}
	if err := global.acquire(ctx); err != nil {
		own.release()
		return nil, err
	}
	return &slot{own: own, global: global}, nil
}

func (s *slot) release() {
	s.global.release()
	s.own.release()
}
