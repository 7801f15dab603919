package runner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/coordinator/coordinatortest"
	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/internal/testio"
	"github.com/kuberunner/kuberunner/metrics"
	"github.com/kuberunner/kuberunner/runner/runnertest"
)

func TestRotationTime(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name              string
		obtained, expires time.Time
		want              time.Time
	}{
		{"3/4 of the lifetime", t0, t0.Add(4 * 24 * time.Hour), t0.Add(3 * 24 * time.Hour)},
		{"already expired: at once", t0, t0.Add(-time.Hour), t0.Add(-45 * time.Minute)},
		{"short lifetime", t0, t0.Add(2 * time.Second), t0.Add(1500 * time.Millisecond)},
	}
	for _, tc := range tests {
		if got := rotationTime(tc.obtained, tc.expires); !got.Equal(tc.want) {
			t.Errorf("%s: rotationTime = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// gitlabLog records, in arrival order, the runner token of every job request and the
// answer to every token reset that reach the fake GitLab.
type gitlabLog struct {
	mu     sync.Mutex
	events []gitlabEvent
}

type gitlabEvent struct {
	reset  bool   // a reset, else a job request
	token  string // the runner token sent
	status int
}

func (l *gitlabLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		isReset := strings.HasSuffix(r.URL.Path, "/runners/reset_authentication_token")
		if !isReset && !strings.HasSuffix(r.URL.Path, "/jobs/request") {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var sent struct {
			Token string `json:"token"`
		}
		_ = json.Unmarshal(body, &sent)
		if h := r.Header.Get("RUNNER-TOKEN"); h != "" {
			sent.Token = h
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		l.mu.Lock()
		l.events = append(l.events, gitlabEvent{reset: isReset, token: sent.Token, status: sw.status})
		l.mu.Unlock()
	})
}

func (l *gitlabLog) snapshot() []gitlabEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// requests are the tokens of the job requests, in order.
func (l *gitlabLog) requests() []string {
	var out []string
	for _, e := range l.snapshot() {
		if !e.reset {
			out = append(out, e.token)
		}
	}
	return out
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// tokenSaves records what Options.SaveToken is given.
type tokenSaves struct {
	mu    sync.Mutex
	calls []savedToken
	fail  func(n int) error // when set, the error of call n (nil: saved)
}

type savedToken struct {
	runner, token     string
	obtained, expires time.Time
}

func (s *tokenSaves) save(runner, token string, obtained, expires time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.calls)
	s.calls = append(s.calls, savedToken{runner, token, obtained, expires})
	if s.fail != nil {
		return s.fail(n)
	}
	return nil
}

// tokens are the distinct tokens saved, in order (the check before each rotation saves the
// token in use again).
func (s *tokenSaves) tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.calls {
		if len(out) == 0 || out[len(out)-1] != c.token {
			out = append(out, c.token)
		}
	}
	return out
}

func (s *tokenSaves) last() savedToken {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[len(s.calls)-1]
}

// waitUntil polls cond until it holds or the test deadline passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkTokenOrder fails unless the job requests carried the tokens in order: each token
// until the next one appears, and never an earlier one after that.
func checkTokenOrder(t *testing.T, requests, order []string) {
	t.Helper()
	at := 0
	for i, tok := range requests {
		j := slices.Index(order, tok)
		if j < 0 {
			t.Fatalf("job request %d carried a token that is none of the runner's", i)
		}
		if j < at {
			t.Fatalf("job request %d carried token %d of the rotation after token %d was in use", i, j, at)
		}
		at = j
	}
}

// TestTokenRotation is the acceptance of issue 12.6: a token that expires is rotated before
// it does, again and again; GitLab sees job requests with the old token before and only with
// the new one after; the new token is saved; a job running meanwhile is not disturbed.
func TestTokenRotation(t *testing.T) {
	const lifetime = 2 * time.Second
	gl := &gitlabLog{}
	saves := &tokenSaves{}
	gate := make(chan struct{})
	exec := &runnertest.Executor{Script: runnertest.Script{Chunks: []runnertest.Chunk{
		{Data: "before\n"}, {Gate: gate, Data: "after the rotation\n"},
	}}}
	s := newStackWith(t, coordinator.Options{LongPoll: 50 * time.Millisecond, TraceUpdateInterval: time.Second, TokenLifetime: lifetime},
		gl.wrap, func(o *Options) { o.SaveToken = saves.save },
		acceptanceRunner{name: "r1", spec: coordinator.RunnerSpec{RunUntagged: true}, exec: exec,
			// One poller: its requests are sequential, so their order is the order of the tokens.
			entry: func(rc *config.Runner) { rc.RequestConcurrency = 1 }})
	original := s.cfg.Runners[0].Token
	if s.cfg.Runners[0].TokenExpiresAt == "" {
		t.Fatal("the runner's token has no expiry in the configuration")
	}
	s.h.start(t)
	id := enqueue(s, 1)[0]
	s.waitFor(t, id, "running", func(r coordinator.JobRecord) bool { return r.Status == coordinator.StatusRunning })

	// Past the original token's lifetime: without rotation the runner would be locked out.
	waitUntil(t, "two rotations", func() bool { return len(saves.tokens()) >= 3 })
	close(gate)
	rec := s.waitDone(t, id)
	if rec.Status != coordinator.StatusSuccess || !strings.Contains(string(rec.Trace), "after the rotation\n") {
		t.Errorf("job across the rotation: status %s, trace %q; want success with the whole trace", rec.Status, rec.Trace)
	}
	checkReported(t, rec)

	order := saves.tokens()
	s.h.secrets = append(s.h.secrets, order[1:]...)
	waitUntil(t, "a job request with the second rotated token", func() bool {
		return slices.Contains(gl.requests(), order[2])
	})
	s.h.stop()
	s.h.wait(t)

	order = saves.tokens()
	s.h.secrets = append(s.h.secrets, order[1:]...)
	if order[0] != original {
		t.Fatalf("the first token saved (the check before the rotation) is not the configured one")
	}
	requests := gl.requests()
	if requests[0] != original {
		t.Errorf("the first job request did not carry the configured token")
	}
	checkTokenOrder(t, requests, order)
	last, current := saves.last(), s.srv.Runners()[0]
	if last.token != current.Token || !last.expires.Equal(current.TokenExpiresAt) {
		t.Errorf("the last token saved (expiring %v) is not GitLab's (expiring %v)", last.expires, current.TokenExpiresAt)
	}
	if last.runner != "r1" || last.obtained.IsZero() || !last.expires.After(last.obtained) {
		t.Errorf("saved %s obtained %v expires %v; want r1 with both dates", last.runner, last.obtained, last.expires)
	}
	for _, e := range gl.snapshot() {
		if e.reset && e.status != http.StatusCreated {
			t.Errorf("a reset was answered %d", e.status)
		}
	}
}

// TestTokenRotationRetriesFailedReset: GitLab refuses resets for a while; the runner retries
// with backoff, its old token keeps polling meanwhile, and the reset that succeeds swaps it.
func TestTokenRotationRetriesFailedReset(t *testing.T) {
	gl := &gitlabLog{}
	saves := &tokenSaves{}
	now := time.Now().UTC()
	s := newStackWith(t, coordinator.Options{LongPoll: 20 * time.Millisecond, TraceUpdateInterval: time.Second},
		gl.wrap, func(o *Options) {
			o.SaveToken = saves.save
			// Pauses long enough between resets for the poller to ask for jobs meanwhile.
			o.Timing.Backoff = gitlab.Backoff{Min: 150 * time.Millisecond, Max: 150 * time.Millisecond, Factor: 1}
		},
		acceptanceRunner{name: "r1", spec: coordinator.RunnerSpec{RunUntagged: true}, exec: &runnertest.Executor{},
			entry: func(rc *config.Runner) {
				rc.RequestConcurrency = 1
				// 3 hours into a 4-hour lifetime: due now.
				rc.TokenObtainedAt = now.Add(-3 * time.Hour).Format(time.RFC3339)
				rc.TokenExpiresAt = now.Add(time.Hour).Format(time.RFC3339)
			}})
	original := s.cfg.Runners[0].Token
	s.srv.FailNext(coordinatortest.EndpointResetToken, http.StatusServiceUnavailable, 3)
	s.h.start(t)

	waitUntil(t, "the rotation", func() bool { return len(saves.tokens()) == 2 })
	fresh := saves.tokens()[1]
	s.h.secrets = append(s.h.secrets, fresh)
	waitUntil(t, "a job request with the new token", func() bool { return slices.Contains(gl.requests(), fresh) })

	events := gl.snapshot()
	var resets []int
	oldAfterFailure := 0
	for _, e := range events {
		switch {
		case e.reset:
			resets = append(resets, e.status)
		case len(resets) > 0 && resets[len(resets)-1] != http.StatusCreated && e.token == original:
			if e.status != http.StatusNoContent {
				t.Errorf("a job request with the old token between failed resets got %d, want 204", e.status)
			}
			oldAfterFailure++
		}
	}
	if want := []int{503, 503, 503, 201}; !slices.Equal(resets, want) {
		t.Errorf("reset answers %v, want %v", resets, want)
	}
	if oldAfterFailure == 0 {
		t.Errorf("no job request with the old token while the reset was failing")
	}
	checkTokenOrder(t, gl.requests(), []string{original, fresh})
	if !strings.Contains(s.h.logs.String(), "runner token rotation failed") {
		t.Errorf("the failed resets were not logged:\n%s", s.h.logs.String())
	}
}

// TestTokenNotRotated: nothing is reset for a token that never expires, for a runner that
// cannot save a new token, or while the configuration cannot be written.
func TestTokenNotRotated(t *testing.T) {
	now := time.Now().UTC()
	due := func(rc *config.Runner) {
		rc.TokenObtainedAt = now.Add(-3 * time.Hour).Format(time.RFC3339)
		rc.TokenExpiresAt = now.Add(time.Hour).Format(time.RFC3339)
	}
	tests := []struct {
		name    string
		entry   func(*config.Runner)
		save    bool
		fail    error
		wantLog string
	}{
		{name: "no expiry", save: true},
		{name: "no SaveToken", entry: due, wantLog: "not rotated here"},
		{name: "config not writable", entry: due, save: true, fail: errors.New("read-only file system"),
			wantLog: "the token could not be saved: read-only file system"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gl := &gitlabLog{}
			saves := &tokenSaves{}
			if tc.fail != nil {
				saves.fail = func(int) error { return tc.fail }
			}
			s := newStackWith(t, coordinator.Options{LongPoll: 10 * time.Millisecond, TraceUpdateInterval: time.Second},
				gl.wrap, func(o *Options) {
					if tc.save {
						o.SaveToken = saves.save
					}
				},
				acceptanceRunner{name: "r1", spec: coordinator.RunnerSpec{RunUntagged: true}, exec: &runnertest.Executor{}, entry: tc.entry})
			s.h.start(t)
			waitUntil(t, "ten job requests", func() bool { return len(gl.requests()) >= 10 })
			for i, e := range gl.snapshot() {
				if e.reset {
					t.Fatalf("event %d: the token was reset", i)
				}
				if e.token != s.cfg.Runners[0].Token || e.status != http.StatusNoContent {
					t.Fatalf("job request %d: %d, or not with the configured token", i, e.status)
				}
			}
			if tc.wantLog != "" {
				waitUntil(t, fmt.Sprintf("log %q", tc.wantLog), func() bool { return strings.Contains(s.h.logs.String(), tc.wantLog) })
			}
			if tc.fail == nil && len(saves.tokens()) > 0 {
				t.Errorf("SaveToken called %d times, want none", len(saves.tokens()))
			}
		})
	}
}

// A configuration built in code with a malformed date is refused, not rotated at random.
func TestNewRefusesBadTokenDates(t *testing.T) {
	rc := testRunnerEntry("r1")
	rc.TokenObtainedAt = "yesterday"
	opts := testOptions(t, testConfig(rc), &testio.Buffer{}, metrics.New(prometheus.NewRegistry(), "test", "test"))
	opts.GitLab = func(config.Runner) (GitLab, error) { return newFakeCoord(), nil }
	opts.Executor = func(config.Runner) (Executor, error) { return &runnertest.Executor{}, nil }
	if _, err := New(opts); err == nil || !strings.Contains(err.Error(), "token_obtained_at") {
		t.Errorf("New = %v, want an error naming token_obtained_at", err)
	}
}
