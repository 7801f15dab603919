package coordinator

import (
	"net/http"
	"time"

	"github.com/kuberunner/kuberunner/jobspec"
)

// jobRequestBody is the body of POST /jobs/request; only what the coordinator acts on.
type jobRequestBody struct {
	Token      string `json:"token"`
	SystemID   string `json:"system_id"`
	LastUpdate string `json:"last_update"` // unused: every request may wait (see the package doc)
	Info       struct {
		Features map[string]bool `json:"features"`
	} `json:"info"`
}

// pollResult is one attempt to hand a job to a runner.
type pollResult struct {
	status     int          // 0: nothing yet, wait on signal
	job        *jobspec.Job // with status 201
	lastUpdate string       // with status 204
	signal     <-chan struct{}
}

// handleRequest serves POST /jobs/request. It answers 201 with the oldest matching job,
// waiting up to LongPoll for one to be enqueued; 204 with X-GitLab-Last-Update when none
// came or the runner is paused; 403 for an unknown token.
func (s *Server) handleRequest(w http.ResponseWriter, r *http.Request) {
	var body jobRequestBody
	if !decodeBody(w, r, &body) {
		return
	}
	token := headerOr(r, "RUNNER-TOKEN", body.Token)
	twoPhase := body.Info.Features["two_phase_job_commit"]

	deadline := time.NewTimer(s.opts.LongPoll)
	defer deadline.Stop()
	for {
		if r.Context().Err() != nil {
			return // the runner left: a job handed out now would be lost
		}
		res := s.tryAssign(token, body.SystemID, twoPhase)
		switch res.status {
		case http.StatusForbidden:
			writeMessage(w, http.StatusForbidden, "403 Forbidden")
			return
		case http.StatusNoContent:
			noJob(w, res.lastUpdate)
			return
		case http.StatusCreated:
			writeJSON(w, http.StatusCreated, res.job)
			return
		}
		if !s.park(w, r, res.signal, deadline.C) {
			return
		}
	}
}

// park waits for the queue to change; false means it answered 204 (deadline, Close) or the
// runner left.
func (s *Server) park(w http.ResponseWriter, r *http.Request, signal <-chan struct{}, deadline <-chan time.Time) bool {
	select {
	case <-signal:
		return true
	case <-deadline:
	case <-s.closed:
	case <-r.Context().Done():
		return false // the runner left; nobody reads an answer
	}
	noJob(w, s.lastUpdate())
	return false
}

func noJob(w http.ResponseWriter, lastUpdate string) {
	w.Header().Set("X-GitLab-Last-Update", lastUpdate)
	w.WriteHeader(http.StatusNoContent)
}

// tryAssign authenticates the runner and hands it a job if one matches.
func (s *Server) tryAssign(token, systemID string, twoPhase bool) pollResult {
	s.mu.Lock()
	now := time.Now()
	rr, ok := s.state.runnerByToken(token, now)
	if !ok {
		s.mu.Unlock()
		return pollResult{status: http.StatusForbidden}
	}
	rr.contact(systemID, now)
	if rr.Paused {
		defer s.mu.Unlock()
		return pollResult{status: http.StatusNoContent, lastUpdate: s.state.lastUpdate()}
	}
	rec, ok := s.state.takeJob(rr, twoPhase, now)
	if !ok {
		defer s.mu.Unlock()
		// Taken under the lock that found no job, so a later Enqueue is sure to wake it.
		return pollResult{signal: s.queueSignal}
	}
	job := cloneJob(rec.Job)
	s.changed(rec.ID)
	s.mu.Unlock()
	s.flushChanges()
	return pollResult{status: http.StatusCreated, job: &job}
}

func (s *Server) lastUpdate() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.lastUpdate()
}
