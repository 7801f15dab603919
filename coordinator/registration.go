package coordinator

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

// runnerTokenBody is the body of the runner endpoints that only authenticate.
type runnerTokenBody struct {
	Token    string `json:"token"`
	SystemID string `json:"system_id"`
}

// tokenAnswer is GitLab's answer carrying a runner's credentials. token_expires_at is null
// unless Options.TokenLifetime is set, as GitLab without a token expiration policy.
type tokenAnswer struct {
	ID             int64      `json:"id,omitempty"`
	Token          string     `json:"token"`
	TokenExpiresAt *time.Time `json:"token_expires_at"`
}

// answer is rr's credentials as GitLab sends them; id is left out where GitLab leaves it out.
func (rr *RunnerRecord) answer(withID bool) tokenAnswer {
	a := tokenAnswer{Token: rr.Token}
	if withID {
		a.ID = rr.ID
	}
	if !rr.TokenExpiresAt.IsZero() {
		t := rr.TokenExpiresAt.UTC()
		a.TokenExpiresAt = &t
	}
	return a
}

// handleVerify serves POST /runners/verify, the only call of the glrt- registration flow.
func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request) {
	var body runnerTokenBody
	if !decodeBody(w, r, &body) {
		return
	}
	var answer tokenAnswer
	if s.withRunner(w, r, body.Token, func(rr *RunnerRecord) {
		rr.contact(body.SystemID, time.Now())
		answer = rr.answer(true)
	}) {
		writeJSON(w, http.StatusOK, answer)
	}
}

// registerBody is the legacy POST /runners body.
type registerBody struct {
	Token          string          `json:"token"`
	Description    string          `json:"description"`
	TagList        json.RawMessage `json:"tag_list"` // "a,b" from gitlab-runner, or ["a","b"]
	RunUntagged    *bool           `json:"run_untagged"`
	Locked         bool            `json:"locked"`
	Paused         bool            `json:"paused"`
	MaximumTimeout int             `json:"maximum_timeout"`
}

// handleRegister serves the legacy POST /runners with the registration token.
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	var body registerBody
	if !decodeBody(w, r, &body) {
		return
	}
	if !tokenEqual(s.opts.RegistrationToken, body.Token) {
		writeMessage(w, http.StatusForbidden, "403 Forbidden")
		return
	}
	tags, ok := parseTagList(body.TagList)
	if !ok {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - tag_list is invalid")
		return
	}
	// GitLab's default; and a runner that takes no untagged jobs needs a tag to take any.
	runUntagged := body.RunUntagged == nil || *body.RunUntagged
	if !runUntagged && len(tags) == 0 {
		writeMessage(w, http.StatusBadRequest,
			"400 Bad request - tags list can not be empty when runner is not allowed to pick untagged jobs")
		return
	}
	if body.MaximumTimeout < 0 {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - maximum_timeout is negative")
		return
	}
	spec := RunnerSpec{
		Description:    body.Description,
		Tags:           tags,
		RunUntagged:    runUntagged,
		Locked:         body.Locked,
		Paused:         body.Paused,
		MaximumTimeout: body.MaximumTimeout,
	}
	// Tokens from the legacy flow carry no glrt- prefix: that marks UI-created runners.
	token := newToken("")
	s.mu.Lock()
	rr := s.state.addRunner(spec, token, s.tokenExpiry(time.Now()))
	answer := rr.answer(true)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, answer)
}

// parseTagList accepts GitLab's two spellings: a comma separated string or a JSON array.
func parseTagList(raw json.RawMessage) ([]string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, true
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		var joined string
		if err := json.Unmarshal(raw, &joined); err != nil {
			return nil, false
		}
		list = strings.Split(joined, ",")
	}
	var tags []string
	for _, t := range list {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	return tags, true
}

// handleUnregister serves DELETE /runners: the runner and its token are gone.
func (s *Server) handleUnregister(w http.ResponseWriter, r *http.Request) {
	var body runnerTokenBody
	if !decodeBody(w, r, &body) {
		return
	}
	if s.withRunner(w, r, body.Token, s.state.removeRunner) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// handleUnregisterManager serves DELETE /runners/managers: one manager (system_id) leaves;
// the runner and its token stay.
func (s *Server) handleUnregisterManager(w http.ResponseWriter, r *http.Request) {
	var body runnerTokenBody
	if !decodeBody(w, r, &body) {
		return
	}
	if body.SystemID == "" {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - system_id is missing")
		return
	}
	if s.withRunner(w, r, body.Token, func(rr *RunnerRecord) {
		rr.SystemIDs = slices.DeleteFunc(rr.SystemIDs, func(id string) bool { return id == body.SystemID })
	}) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// handleResetToken serves POST /runners/reset_authentication_token: the old token stops
// working at once.
func (s *Server) handleResetToken(w http.ResponseWriter, r *http.Request) {
	var body runnerTokenBody
	if !decodeBody(w, r, &body) {
		return
	}
	var answer tokenAnswer
	if s.withRunner(w, r, body.Token, func(rr *RunnerRecord) {
		prefix := ""
		if strings.HasPrefix(rr.Token, runnerTokenPrefix) {
			prefix = runnerTokenPrefix
		}
		s.state.rotateToken(rr, newToken(prefix), s.tokenExpiry(time.Now()))
		answer = rr.answer(false)
	}) {
		writeJSON(w, http.StatusCreated, answer)
	}
}

// withRunner runs act, under the lock, on the runner the request's token names (the
// RUNNER-TOKEN header, else the body's token). An unknown or expired token gets GitLab's 403
// and false.
func (s *Server) withRunner(w http.ResponseWriter, r *http.Request, bodyToken string, act func(*RunnerRecord)) bool {
	s.mu.Lock()
	rr, ok := s.state.runnerByToken(headerOr(r, "RUNNER-TOKEN", bodyToken), time.Now())
	if ok {
		act(rr)
	}
	s.mu.Unlock()
	if !ok {
		writeMessage(w, http.StatusForbidden, "403 Forbidden")
	}
	return ok
}
