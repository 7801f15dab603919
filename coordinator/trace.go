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

	s.mu.Lock()
	rec, found, ok := s.state.authJob(id, token)
	if !found || !ok { // removed or changed since checkJobToken: cannot happen today
		s.mu.Unlock()
		writeMessage(w, http.StatusForbidden, "403 Forbidden")
		return
	}
	status := rec.Status
	switch {
	case status != StatusRunning && status != StatusCanceling:
		s.mu.Unlock()
		jobForbidden(w, status, "Job is not running")
		return
	case start+int64(len(data)) > s.opts.MaxTraceSize:
		// GitLab drops the job rather than truncating its log.
		rec.Status, rec.FailureReason, rec.FinishedAt = StatusFailed, traceSizeExceeded, time.Now()
		s.changed(id)
		s.mu.Unlock()
		s.flushChanges()
		jobForbidden(w, StatusFailed, "trace size exceeded")
		return
	case start != int64(len(rec.Trace)):
		size := len(rec.Trace)
		s.mu.Unlock()
		w.Header().Set("Range", fmt.Sprintf("0-%d", size))
		writeMessage(w, http.StatusRequestedRangeNotSatisfiable, "416 Range Not Satisfiable")
		return
	}
	rec.Trace = append(rec.Trace, data...)
	size := len(rec.Trace)
	if len(data) > 0 {
		s.changed(id)
	}
	s.mu.Unlock()
	s.flushChanges()

	w.Header().Set("Range", fmt.Sprintf("0-%d", size))
	w.Header().Set("Job-Status", status)
	w.Header().Set("X-GitLab-Trace-Update-Interval", s.updateInterval())
	w.WriteHeader(http.StatusAccepted)
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
