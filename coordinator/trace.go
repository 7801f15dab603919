package coordinator

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// handleTrace serves PATCH /jobs/:id/trace: raw bytes appended at Content-Range's start,
// which must be the current length of the trace.
func (s *Server) handleTrace(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	rangeHeader := r.Header.Get("Content-Range")
	if rangeHeader == "" {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - Missing header Content-Range")
		return
	}
	start, end, ok := parseContentRange(rangeHeader)
	if !ok {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - malformed Content-Range")
		return
	}
	token := r.Header.Get("JOB-TOKEN")
	if !s.checkJobToken(w, id, token) {
		return
	}
	// Reading one byte past the size limit is enough to know the patch would pass it.
	data, err := io.ReadAll(io.LimitReader(r.Body, max(s.opts.MaxTraceSize-start, 0)+1))
	if err != nil {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - reading the body failed")
		return
	}
	if end != start+int64(len(data))-1 {
		writeMessage(w, http.StatusBadRequest, fmt.Sprintf(
			"400 Bad request - Content-Range %s does not match a body of %d bytes", rangeHeader, len(data)))
		return
	}

	var out patchOutcome
	s.mutate(id, func() bool {
		out = s.applyPatch(id, token, start, data)
		return out.changed
	})
	switch {
	case out.code == http.StatusRequestedRangeNotSatisfiable:
		w.Header().Set("Range", fmt.Sprintf("0-%d", out.size))
		writeMessage(w, http.StatusRequestedRangeNotSatisfiable, "416 Range Not Satisfiable")
	case out.code == http.StatusForbidden && out.status == "":
		writeMessage(w, http.StatusForbidden, "403 Forbidden")
	case out.code == http.StatusForbidden:
		jobForbidden(w, out.status, out.reason)
	default:
		w.Header().Set("Range", fmt.Sprintf("0-%d", out.size))
		w.Header().Set("Job-Status", out.status)
		w.Header().Set("X-GitLab-Trace-Update-Interval", s.updateInterval())
		w.WriteHeader(http.StatusAccepted)
	}
}

// patchOutcome is what applying a trace patch decided, answered once the lock is released.
type patchOutcome struct {
	code    int    // 202, 403 or 416
	status  string // the job's status for Job-Status; "" with a 403 for the token
	reason  string // why a 403 with a status
	size    int    // the trace's length, for Range
	changed bool   // the record changed: OnChange gets the appended bytes or the failure
}

// applyPatch appends data at start to job id's trace. Call with s.mu held.
func (s *Server) applyPatch(id int64, token string, start int64, data []byte) patchOutcome {
	rec, found, ok := s.state.authJob(id, token)
	if !found || !ok { // removed or changed since checkJobToken: cannot happen today
		return patchOutcome{code: http.StatusForbidden}
	}
	switch {
	case rec.Status != StatusRunning && rec.Status != StatusCanceling:
		return patchOutcome{code: http.StatusForbidden, status: rec.Status, reason: "Job is not running"}
	case start+int64(len(data)) > s.opts.MaxTraceSize:
		// GitLab drops the job rather than truncating its log.
		rec.Status, rec.FailureReason, rec.FinishedAt = StatusFailed, traceSizeExceeded, time.Now()
		return patchOutcome{code: http.StatusForbidden, status: StatusFailed, reason: "trace size exceeded", changed: true}
	case start != int64(len(rec.Trace)):
		return patchOutcome{code: http.StatusRequestedRangeNotSatisfiable, size: len(rec.Trace)}
	}
	rec.Trace = append(rec.Trace, data...)
	return patchOutcome{code: http.StatusAccepted, status: rec.Status, size: len(rec.Trace), changed: len(data) > 0}
}

// checkJobToken answers 404 or 403 and returns false unless token is job id's, so that a
// request with a bad token is turned away before its body is read.
func (s *Server) checkJobToken(w http.ResponseWriter, id int64, token string) bool {
	s.mu.Lock()
	_, found, ok := s.state.authJob(id, token)
	s.mu.Unlock()
	switch {
	case !found:
		writeMessage(w, http.StatusNotFound, "404 Not Found")
	case !ok:
		writeMessage(w, http.StatusForbidden, "403 Forbidden")
	}
	return found && ok
}

// parseContentRange parses the runner's "start-end": inclusive byte offsets, no unit. An
// empty patch is "start-(start-1)".
func parseContentRange(v string) (start, end int64, ok bool) {
	a, b, found := strings.Cut(v, "-")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false
	}
	end, err = strconv.ParseInt(b, 10, 64)
	if err != nil || end < start-1 {
		return 0, 0, false
	}
	return start, end, true
}
