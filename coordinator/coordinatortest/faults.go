package coordinatortest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/kuberunner/kuberunner/coordinator"
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

// routes are the coordinator's patterns by Endpoint; a ServeMux of them classifies a request
// exactly as the coordinator routes it.
var routes = map[string]Endpoint{
	"POST /api/v4/runners/verify":                     EndpointVerify,
	"POST /api/v4/runners":                            EndpointRegister,
	"DELETE /api/v4/runners":                          EndpointUnregister,
	"DELETE /api/v4/runners/managers":                 EndpointUnregister,
	"POST /api/v4/runners/reset_authentication_token": EndpointResetToken,
	"POST /api/v4/jobs/request":                       EndpointRequest,
	"PUT /api/v4/jobs/{id}":                           EndpointUpdate,
	"PATCH /api/v4/jobs/{id}/trace":                   EndpointTrace,
	"POST /api/v4/jobs/{id}/artifacts":                EndpointArtifacts,
	"GET /api/v4/jobs/{id}/artifacts":                 EndpointDownload,
}

// Faults is middleware in front of a coordinator that fails chosen requests on purpose, for
// tests of a client's retries. A failed request never reaches the coordinator: nothing is
// read and nothing changes there.
type Faults struct {
	next     http.Handler
	classify *http.ServeMux
	interval string // X-GitLab-Trace-Update-Interval, sent with failed updates and patches

	mu     sync.Mutex
	faults map[Endpoint]fault
}

type fault struct{ status, remaining int }

// NewFaults wraps next, a coordinator whose Options.TraceUpdateInterval is updateInterval.
func NewFaults(next http.Handler, updateInterval time.Duration) *Faults {
	if updateInterval == 0 {
		updateInterval = coordinator.DefaultTraceUpdateInterval
	}
	f := &Faults{
		next:     next,
		classify: http.NewServeMux(),
		// Whole seconds, at least 1, as the coordinator sends it.
		interval: strconv.FormatInt(int64(max(updateInterval/time.Second, 1)), 10),
		faults:   make(map[Endpoint]fault),
	}
	for pattern := range routes {
		f.classify.Handle(pattern, next)
	}
	return f
}

// FailNext makes the next n requests to ep answer status. A later call for the same
// endpoint replaces an earlier one; n <= 0 clears it.
func (f *Faults) FailNext(ep Endpoint, status, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n <= 0 {
		delete(f.faults, ep)
		return
	}
	f.faults[ep] = fault{status: status, remaining: n}
}

// take consumes one injected failure for ep, if any.
func (f *Faults) take(ep Endpoint) (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ft, ok := f.faults[ep]
	if !ok {
		return 0, false
	}
	if ft.remaining--; ft.remaining == 0 {
		delete(f.faults, ep)
	} else {
		f.faults[ep] = ft
	}
	return ft.status, true
}

func (f *Faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := f.classify.Handler(r)
	ep, known := routes[pattern] // a route the coordinator does not serve never fails
	status, fail := 0, false
	if known {
		status, fail = f.take(ep)
	}
	if !fail {
		f.next.ServeHTTP(w, r)
		return
	}
	// Runners read the update interval as their backoff on 202 and 5xx answers.
	if ep == EndpointUpdate || ep == EndpointTrace {
		w.Header().Set("X-GitLab-Trace-Update-Interval", f.interval)
	}
	// GitLab's error shape, as the coordinator answers.
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": strconv.Itoa(status) + " " + http.StatusText(status)})
}
