package gitlab

import (
	"errors"
	"fmt"
	"time"

	"github.com/kuberunner/kuberunner/jobspec"
)

// RunnerCredentials identify one registered runner (one manager process: SystemID).
type RunnerCredentials struct {
	URL      string // GitLab's base URL, without /api/v4
	Token    string // glrt-... authentication token; never logged
	SystemID string
}

// JobCredentials address one job's endpoints with that job's own token.
type JobCredentials struct {
	URL   string
	ID    int64
	Token string // never logged
}

// JobState is the state the runner reports in PUT /jobs/:id.
type JobState string

const (
	StateRunning JobState = "running"
	StateSuccess JobState = "success"
	StateFailed  JobState = "failed"
)

// UpdateJobRequest is the body of PUT /jobs/:id, less the token.
type UpdateJobRequest struct {
	State         JobState
	FailureReason jobspec.FailureReason // already mapped with Job.ReportableReason
	ExitCode      *int
	Checksum      string // "crc32:%08x" of the whole trace sent
	Bytesize      int64
}

// UpdateJobResult is what the coordinator said to a PUT /jobs/:id.
type UpdateJobResult int

const (
	UpdateAccepted    UpdateJobResult = iota // 200
	UpdateTraceNotYet                        // 202: the server has not finalised the trace; try again later
	UpdateAbort                              // 403/404: the job is gone or cancelled; stop
	UpdateConflict                           // 409: another manager owns the job
	// UpdateCancelRequested answers a PUT state=running with 200 and Job-Status: canceling:
	// GitLab asks for a graceful cancel. A silent job learns of it only this way.
	UpdateCancelRequested
)

// PatchTraceResult is what the coordinator said to a PATCH /jobs/:id/trace.
type PatchTraceResult struct {
	// SentOffset is the server's trace length after this patch: the offset of the next byte.
	// On 416 it is the length the server has, to resume from.
	SentOffset int64
	// RangeMismatch is true on 416: nothing was appended; resume from SentOffset.
	RangeMismatch bool
	// JobStatus is the Job-Status header: running, canceling, canceled, failed, success.
	JobStatus string
	// UpdateInterval is X-GitLab-Trace-Update-Interval, zero if absent.
	UpdateInterval time.Duration
	// Abort is true on 403 or Job-Status canceled/failed: kill the job at once.
	Abort bool
}

// CancelRequested reports a graceful cancel: stop the script, still run after_script.
func (r PatchTraceResult) CancelRequested() bool { return r.JobStatus == "canceling" }

// ArtifactsOptions are the query parameters of POST /jobs/:id/artifacts.
type ArtifactsOptions struct {
	Filename string
	Format   string // zip | gzip | raw
	Type     string // archive, junit, ...
	ExpireIn string
}

// Errors the runner branches on. Anything else from this package is a transport or
// server fault: errors.Is(err, ErrTransient) says whether trying again can help.
var (
	ErrForbidden = errors.New("forbidden: the token is invalid or revoked")
	ErrConflict  = errors.New("conflict: another runner took the job")
	ErrTransient = errors.New("temporary coordinator failure")
	ErrTooLarge  = errors.New("too large")
	ErrNotFound  = errors.New("not found")
)

// StatusError is an unexpected HTTP status from one endpoint. It never carries a token.
type StatusError struct {
	Method, Endpoint string
	Code             int
	Body             string // first bytes of the answer, for the operator
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: unexpected status %d: %s", e.Method, e.Endpoint, e.Code, e.Body)
}

// Is makes 5xx and 429 answers match ErrTransient.
func (e *StatusError) Is(target error) bool {
	return target == ErrTransient && (e.Code >= 500 || e.Code == 429)
}
