package coordinator

import (
	"net/http"
	"strconv"
)

// Endpoint names a group of API routes for fault injection.
type Endpoint string

const (
	EndpointRequest    Endpoint = "request"     // POST /jobs/request
	EndpointUpdate     Endpoint = "update"      // PUT /jobs/:id
	EndpointTrace      Endpoint = "trace"       // PATCH /jobs/:id/trace
	EndpointArtifacts  Endpoint = "artifacts"   // POST /jobs/:id/artifacts
	EndpointDownload   Endpoint = "download"    // GET /jobs/:id/artifacts
	EndpointRegister   Endpoint = "register"    // POST /runners (legacy registration)
	EndpointVerify     Endpoint = "verify"      // POST /runners/verify
	EndpointUnregister Endpoint = "unregister"  // DELETE /runners and /runners/managers
	EndpointResetToken Endpoint = "reset_token" // POST /runners/reset_authentication_token
)

type fault struct{ status, remaining int }

// FailNext makes the next n requests to ep answer status, with no other effect: the request
// is not read and nothing changes. A later call for the same endpoint replaces an earlier
// one; n <= 0 clears it.
func (s *Server) FailNext(ep Endpoint, status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		delete(s.faults, ep)
		return
	}
	s.faults[ep] = fault{status: status, remaining: n}
}

// takeFault consumes one injected failure for ep, if any.
func (s *Server) takeFault(ep Endpoint) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.faults[ep]
	if !ok {
		return 0, false
	}
	if f.remaining--; f.remaining == 0 {
		delete(s.faults, ep)
	} else {
		s.faults[ep] = f
	}
	return f.status, true
}

func (s *Server) withFaults(ep Endpoint, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, ok := s.takeFault(ep)
		if !ok {
			h(w, r)
			return
		}
		// Runners read the update interval as their backoff on 202 and 5xx answers.
		if ep == EndpointUpdate || ep == EndpointTrace {
			w.Header().Set("X-GitLab-Trace-Update-Interval", s.updateInterval())
		}
		writeMessage(w, status, strconv.Itoa(status)+" "+http.StatusText(status))
	})
}
