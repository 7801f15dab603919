package coordinator

import (
	"fmt"
	"hash/crc32"
	"net/http"
	"time"

	"github.com/kuberunner/kuberunner/jobspec"
)

// updateBody is the body of PUT /jobs/:id.
type updateBody struct {
	Token         string `json:"token"`
	State         string `json:"state"`
	FailureReason string `json:"failure_reason"`
	ExitCode      *int   `json:"exit_code"`
	Checksum      string `json:"checksum"` // older runners send it here instead of in output
	Output        *struct {
		Checksum string `json:"checksum"`
		Bytesize int64  `json:"bytesize"`
	} `json:"output"`
}

// handleUpdate serves PUT /jobs/:id: the runner confirms (running), keeps alive (pending or
// running) or finishes (success, failed) a job.
func (s *Server) handleUpdate(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	var body updateBody
	if !decodeBody(w, r, &body) {
		return
	}
	switch body.State {
	case StatusPending, StatusRunning, StatusSuccess, StatusFailed:
	default:
		writeMessage(w, http.StatusBadRequest, "400 Bad request - state does not have a valid value")
		return
	}
	if body.FailureReason != "" && !knownFailureReason(body.FailureReason) {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - failure_reason does not have a valid value")
		return
	}

	var found, authorized bool
	var code int
	var reason, status string
	s.mutate(id, func() bool {
		var rec *JobRecord
		rec, found, authorized = s.state.authJob(id, headerOr(r, "JOB-TOKEN", body.Token))
		if !found || !authorized {
			return false
		}
		code, reason = s.applyUpdate(rec, r.Header.Get("RUNNER-TOKEN"), body, time.Now())
		status = rec.Status
		return code == http.StatusOK
	})

	switch {
	case !found:
		writeMessage(w, http.StatusNotFound, "404 Not Found")
	case !authorized:
		writeMessage(w, http.StatusForbidden, "403 Forbidden")
	case code == http.StatusOK:
		w.Header().Set("Job-Status", status)
		w.Header().Set("X-GitLab-Trace-Update-Interval", s.updateInterval())
		writeStatus(w, http.StatusOK)
	case code == http.StatusForbidden:
		jobForbidden(w, status, reason)
	default:
		writeMessage(w, code, fmt.Sprintf("%d %s - %s", code, http.StatusText(code), reason))
	}
}

// applyUpdate applies one PUT to rec with s.mu held and returns the answer's status code
// and, when it is not 200, why.
func (s *Server) applyUpdate(rec *JobRecord, runnerToken string, body updateBody, now time.Time) (int, string) {
	if rec.Finished() {
		return http.StatusForbidden, "Job is not processing on runner"
	}
	// Two-phase commit: the job is reserved for the runner it was handed to. The job token
	// alone cannot tell managers apart, so a runner that sends its RUNNER-TOKEN as well is
	// checked against the owner.
	if rec.RunnerID == 0 {
		return http.StatusConflict, "job was not handed to a runner"
	}
	if runnerToken != "" {
		if rr, ok := s.state.runnerByToken(runnerToken, now); !ok || rr.ID != rec.RunnerID {
			return http.StatusConflict, "job is assigned to another runner"
		}
	}

	switch body.State {
	case StatusPending:
		if rec.Status != StatusPending {
			return http.StatusConflict, "job is not pending"
		}
	case StatusRunning:
		if rec.Status == StatusPending {
			rec.Status, rec.StartedAt = StatusRunning, now
		}
	case StatusSuccess, StatusFailed:
		s.finish(rec, body, now)
	}
	u := StateUpdate{
		State:         body.State,
		FailureReason: body.FailureReason,
		ExitCode:      cloneInt(body.ExitCode),
		Checksum:      body.Checksum,
		At:            now,
	}
	if body.Output != nil {
		u.Checksum, u.Bytesize = body.Output.Checksum, body.Output.Bytesize
	}
	rec.Updates = append(rec.Updates, u)
	return http.StatusOK, ""
}

// finish ends the job with the runner's final state. A canceling job ends canceled whatever
// the runner says, as GitLab does after a graceful cancel.
func (s *Server) finish(rec *JobRecord, body updateBody, now time.Time) {
	rec.FinishedAt = now
	rec.ExitCode = cloneInt(body.ExitCode)
	switch {
	case rec.Status == StatusCanceling:
		rec.Status = StatusCanceled
	case body.State == StatusSuccess:
		rec.Status = StatusSuccess
	default:
		rec.Status = StatusFailed
		rec.FailureReason = jobspec.FailureReason(body.FailureReason)
		if rec.FailureReason == jobspec.FailureNone {
			rec.FailureReason = jobspec.UnknownFailure
		}
	}
	checksum, bytesize := body.Checksum, int64(-1)
	if body.Output != nil {
		checksum, bytesize = body.Output.Checksum, body.Output.Bytesize
	}
	if checksum != "" && checksum != traceChecksum(rec.Trace) {
		rec.ChecksumMismatch = true
	}
	if bytesize >= 0 && bytesize != int64(len(rec.Trace)) {
		rec.ChecksumMismatch = true
	}
}

// traceChecksum is the checksum runners send: crc32 (IEEE) of the whole trace.
func traceChecksum(trace []byte) string {
	return fmt.Sprintf("crc32:%08x", crc32.ChecksumIEEE(trace))
}
