package coordinatortest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/kuberunner/kuberunner/coordinator"
)

// ErrUnknownJob is returned by WaitFor for a job ID the coordinator has never seen.
var ErrUnknownJob = errors.New("unknown job")

// WaitFor blocks until cond holds for the job's record, and returns that record. When ctx
// ends first it returns the last record seen with ctx's error; for a job the coordinator does
// not know it returns ErrUnknownJob at once. It wakes on the coordinator's OnChange.
func (s *Server) WaitFor(ctx context.Context, id int64, cond func(coordinator.JobRecord) bool) (coordinator.JobRecord, error) {
	for {
		// Taken before the record is read: a change after the read closes it.
		changed := s.records.wait()
		rec, ok := s.Job(id)
		if !ok {
			return coordinator.JobRecord{}, fmt.Errorf("wait for job %d: %w", id, ErrUnknownJob)
		}
		if cond(rec) {
			return rec, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return rec, fmt.Errorf("wait for job %d: %w", id, ctx.Err())
		}
	}
}

// WaitingRequests returns how many job requests are at the coordinator right now, past any
// injected fault: each is about to look at the queue or parked in its long poll.
func (s *Server) WaitingRequests() int { return s.requests.count() }

// WaitRequests blocks until at least n job requests are at the coordinator, or ctx ends. A
// matching job enqueued after it returns is handed to one of them at once: a request that
// has not looked at the queue yet finds it, a parked one is woken. To know that a request
// is parked, wait as well for its runner's ContactedAt.
func (s *Server) WaitRequests(ctx context.Context, n int) error {
	for {
		changed := s.requests.changed.wait()
		if s.requests.count() >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("wait for %d parked job requests: %w", n, ctx.Err())
		}
	}
}

// jobRequests is middleware that counts the job requests (POST /jobs/request) in flight.
type jobRequests struct {
	next    http.Handler
	changed broadcast

	mu sync.Mutex
	n  int
}

func (j *jobRequests) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/v4/jobs/request" {
		j.next.ServeHTTP(w, r)
		return
	}
	j.add(+1)
	defer j.add(-1)
	j.next.ServeHTTP(w, r)
}

func (j *jobRequests) add(delta int) {
	j.mu.Lock()
	j.n += delta
	j.mu.Unlock()
	j.changed.notify()
}

func (j *jobRequests) count() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.n
}

// broadcast wakes every waiter at once: wait returns a channel that the next notify closes.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

func (b *broadcast) notify() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
}
