package runner

import "context"

// slots is a counting semaphore; a nil slots never blocks (no limit).
type slots chan struct{}

func newSlots(n int) slots {
	if n <= 0 {
		return nil
	}
	return make(slots, n)
}

func (s slots) acquire(ctx context.Context) error {
	if s == nil {
		return ctx.Err()
	}
	select {
	case s <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s slots) release() {
	if s != nil {
		<-s
	}
}

// slot is one job's share of both caps: the runner's own limit and the global concurrent.
type slot struct{ own, global slots }

// acquireSlot takes the runner's slot first, then the global one; every poller takes them
// in this order, so none holds a global slot while waiting for its runner's.
func acquireSlot(ctx context.Context, own, global slots) (*slot, error) {
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
