// Package coordinatortest serves a coordinator.Server for tests: the fake GitLab every runner
// test talks to, with what only tests need kept out of the coordinator: injected faults
// (Faults, Chaos) in front of it, and waits for job records and job requests.
package coordinatortest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kuberunner/kuberunner/coordinator"
)

// Server is a coordinator with test hooks. Serve it, not the embedded coordinator.Server,
// so that injected faults and the count of job requests see every request.
type Server struct {
	*coordinator.Server
	faults   *Faults
	requests *jobRequests
	records  broadcast // notified on every change of a job record
}

// New returns a coordinator with opts behind fault injection and request counting. It
// chains its own OnChange after opts.OnChange, to wake WaitFor.
func New(opts coordinator.Options) (*Server, error) {
	s := &Server{}
	onChange := opts.OnChange
	opts.OnChange = func(c coordinator.Change) {
		if onChange != nil {
			onChange(c)
		}
		s.records.notify()
	}
	srv, err := coordinator.New(opts)
	if err != nil {
		return nil, err
	}
	s.Server = srv
	s.requests = &jobRequests{next: srv}
	s.faults = NewFaults(s.requests, opts.TraceUpdateInterval)
	return s, nil
}

// ServeHTTP serves the coordinator's API through the test hooks.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.faults.ServeHTTP(w, r) }

// FailNext makes the next n requests to ep answer status without reaching the coordinator;
// see Faults.FailNext.
func (s *Server) FailNext(ep Endpoint, status, n int) { s.faults.FailNext(ep, status, n) }

// Start serves a new coordinator on an httptest server on loopback and closes both when the
// test ends. It returns the server and its base URL, without /api/v4.
func Start(t testing.TB, opts coordinator.Options) (*Server, string) {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatalf("start coordinator: %v", err)
	}
	hs := httptest.NewServer(s)
	// Cleanups run last-registered first: closing the coordinator first answers parked job
	// requests, so that the HTTP server's Close does not wait out their long poll.
	t.Cleanup(hs.Close)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close coordinator: %v", err)
		}
	})
	return s, hs.URL
}
