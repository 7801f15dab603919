package coordinator

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// maxJSONBody bounds the JSON bodies of runner and job calls; gitlab-runner's are a few KiB.
const maxJSONBody = 1 << 20

// writeMessage answers in GitLab's error shape: {"message": "..."}.
func writeMessage(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// The status line is gone already; a failed write means the client left.
	_ = json.NewEncoder(w).Encode(v)
}

// writeStatus answers with the bare status code as body, as GitLab does for PUT and uploads.
func writeStatus(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, strconv.Itoa(status))
}

// decodeBody reads a JSON body into v; an empty body leaves v as it is. On failure it has
// answered 400 and returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody)).Decode(v)
	if err == nil || errors.Is(err, io.EOF) {
		return true
	}
	writeMessage(w, http.StatusBadRequest, "400 Bad request - invalid JSON body")
	return false
}

// headerOr returns the request header name, or fallback (the token from the body) when absent.
func headerOr(r *http.Request, name, fallback string) string {
	if v := r.Header.Get(name); v != "" {
		return v
	}
	return fallback
}

// pathID parses the {id} wildcard; ok=false has answered 404, as GitLab does for a
// job ID that cannot exist.
func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeMessage(w, http.StatusNotFound, "404 Not Found")
		return 0, false
	}
	return id, true
}

// jobForbidden answers 403 for a job that is not processing on a runner, with its status,
// as GitLab's job_forbidden! does: runners read Job-Status to tell a cancel from a bad token.
func jobForbidden(w http.ResponseWriter, status, reason string) {
	w.Header().Set("Job-Status", status)
	writeMessage(w, http.StatusForbidden, "403 Forbidden - "+reason)
}

// updateInterval is X-GitLab-Trace-Update-Interval: whole seconds, at least 1.
func (s *Server) updateInterval() string {
	return strconv.FormatInt(int64(max(s.opts.TraceUpdateInterval/time.Second, 1)), 10)
}
