package coordinator_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kuberunner/kuberunner/coordinator"
)

type tokenAnswer struct {
	ID             int64   `json:"id"`
	Token          string  `json:"token"`
	TokenExpiresAt *string `json:"token_expires_at"`
}

func decodeToken(t *testing.T, r reply) tokenAnswer {
	t.Helper()
	var ta tokenAnswer
	if err := json.Unmarshal(r.body, &ta); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return ta
}

func TestVerify(t *testing.T) {
	s, a := start(t, coordinator.Options{})
	token := s.AddRunner(coordinator.RunnerSpec{Description: "ci", Tags: []string{"k8s"}})
	if !strings.HasPrefix(token, "glrt-") {
		t.Errorf("AddRunner token %q lacks the glrt- prefix", token)
	}

	r := a.json(http.MethodPost, "/api/v4/runners/verify", nil, map[string]string{"token": token, "system_id": "s_000000000001"})
	if r.status != http.StatusOK {
		t.Fatalf("verify = %d %s, want 200", r.status, r.body)
	}
	got := decodeToken(t, r)
	if d := cmp.Diff(tokenAnswer{ID: 1, Token: token}, got); d != "" {
		t.Errorf("verify answer -want +got:\n%s", d)
	}
	// The header works as well as the body, and every manager is remembered once.
	a.json(http.MethodPost, "/api/v4/runners/verify", map[string]string{"RUNNER-TOKEN": token}, map[string]string{"system_id": "r_000000000002"})
	a.json(http.MethodPost, "/api/v4/runners/verify", nil, map[string]string{"token": token, "system_id": "s_000000000001"})

	want := []coordinator.RunnerRecord{{
		ID: 1, Token: token, Description: "ci", Tags: []string{"k8s"},
		SystemIDs: []string{"s_000000000001", "r_000000000002"},
	}}
	if d := cmp.Diff(want, s.Runners(), cmpopts.IgnoreFields(coordinator.RunnerRecord{}, "ContactedAt")); d != "" {
		t.Errorf("Runners() -want +got:\n%s", d)
	}

	for _, bad := range []string{"", "glrt-nope", token + "x"} {
		if r := a.json(http.MethodPost, "/api/v4/runners/verify", nil, map[string]string{"token": bad}); r.status != http.StatusForbidden {
			t.Errorf("verify with token %q = %d, want 403", bad, r.status)
		}
	}
}

func TestLegacyRegister(t *testing.T) {
	tests := []struct {
		name   string
		body   map[string]any
		status int
		want   coordinator.RunnerRecord // ID and Token are filled in from the answer
	}{
		{
			name:   "comma separated tags",
			body:   map[string]any{"token": "reg", "description": "d", "tag_list": "a, b,,c", "run_untagged": false, "locked": true, "maximum_timeout": 600},
			status: http.StatusCreated,
			want:   coordinator.RunnerRecord{Description: "d", Tags: []string{"a", "b", "c"}, Locked: true, MaximumTimeout: 600},
		},
		{
			name:   "array tags and GitLab's default run_untagged",
			body:   map[string]any{"token": "reg", "tag_list": []string{"x"}, "paused": true},
			status: http.StatusCreated,
			want:   coordinator.RunnerRecord{Tags: []string{"x"}, RunUntagged: true, Paused: true},
		},
		{name: "bad registration token", body: map[string]any{"token": "nope"}, status: http.StatusForbidden},
		{name: "no tags and no untagged jobs", body: map[string]any{"token": "reg", "run_untagged": false}, status: http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, a := start(t, coordinator.Options{RegistrationToken: "reg"})
			r := a.json(http.MethodPost, "/api/v4/runners", nil, tc.body)
			if r.status != tc.status {
				t.Fatalf("POST /runners = %d %s, want %d", r.status, r.body, tc.status)
			}
			if r.status != http.StatusCreated {
				if n := len(s.Runners()); n != 0 {
					t.Errorf("%d runners after a refused registration", n)
				}
				return
			}
			ta := decodeToken(t, r)
			tc.want.ID, tc.want.Token = ta.ID, ta.Token
			if ta.Token == "" || strings.HasPrefix(ta.Token, "glrt-") {
				t.Errorf("legacy token %q: want a non-empty token without the glrt- prefix", ta.Token)
			}
			if d := cmp.Diff([]coordinator.RunnerRecord{tc.want}, s.Runners(), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("Runners() -want +got:\n%s", d)
			}
		})
	}
}

func TestLegacyRegisterDisabledWithoutToken(t *testing.T) {
	_, a := start(t, coordinator.Options{})
	if r := a.json(http.MethodPost, "/api/v4/runners", nil, map[string]any{"token": ""}); r.status != http.StatusForbidden {
		t.Errorf("POST /runners without a registration token configured = %d, want 403", r.status)
	}
}

func TestUnregisterAndManagers(t *testing.T) {
	s, a := start(t, coordinator.Options{})
	token := s.AddRunner(coordinator.RunnerSpec{RunUntagged: true})
	for _, id := range []string{"s_000000000001", "s_000000000002"} {
		a.json(http.MethodPost, "/api/v4/runners/verify", nil, map[string]string{"token": token, "system_id": id})
	}

	if r := a.json(http.MethodDelete, "/api/v4/runners/managers", nil, map[string]string{"token": "bad", "system_id": "s_000000000001"}); r.status != http.StatusForbidden {
		t.Errorf("DELETE /runners/managers with a bad token = %d, want 403", r.status)
	}
	if r := a.json(http.MethodDelete, "/api/v4/runners/managers", nil, map[string]string{"token": token, "system_id": "s_000000000001"}); r.status != http.StatusNoContent {
		t.Errorf("DELETE /runners/managers = %d %s, want 204", r.status, r.body)
	}
	if d := cmp.Diff([]string{"s_000000000002"}, s.Runners()[0].SystemIDs); d != "" {
		t.Errorf("system IDs after removing a manager -want +got:\n%s", d)
	}

	if r := a.json(http.MethodDelete, "/api/v4/runners", nil, map[string]string{"token": token}); r.status != http.StatusNoContent {
		t.Errorf("DELETE /runners = %d %s, want 204", r.status, r.body)
	}
	if r := a.json(http.MethodDelete, "/api/v4/runners", nil, map[string]string{"token": token}); r.status != http.StatusForbidden {
		t.Errorf("second DELETE /runners = %d, want 403", r.status)
	}
	if r := a.requestJob(token); r.status != http.StatusForbidden {
		t.Errorf("job request of an unregistered runner = %d, want 403", r.status)
	}
}

func TestResetAuthenticationToken(t *testing.T) {
	s, a := start(t, coordinator.Options{})
	old := s.AddRunner(coordinator.RunnerSpec{RunUntagged: true})
	r := a.json(http.MethodPost, "/api/v4/runners/reset_authentication_token", nil, map[string]string{"token": old})
	if r.status != http.StatusCreated {
		t.Fatalf("reset = %d %s, want 201", r.status, r.body)
	}
	fresh := decodeToken(t, r).Token
	if fresh == old || !strings.HasPrefix(fresh, "glrt-") {
		t.Errorf("new token %q: want a different glrt- token", fresh)
	}
	verify := func(token string) int {
		return a.json(http.MethodPost, "/api/v4/runners/verify", nil, map[string]string{"token": token}).status
	}
	if got := verify(old); got != http.StatusForbidden {
		t.Errorf("verify with the old token = %d, want 403", got)
	}
	if got := verify(fresh); got != http.StatusOK {
		t.Errorf("verify with the new token = %d, want 200", got)
	}
	if r := a.json(http.MethodPost, "/api/v4/runners/reset_authentication_token", nil, map[string]string{"token": old}); r.status != http.StatusForbidden {
		t.Errorf("reset with the old token = %d, want 403", r.status)
	}
}

func TestUnknownRoutesAnswerJSON404(t *testing.T) {
	_, a := start(t, coordinator.Options{})
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/api/v4/version"},
		{http.MethodGet, "/api/v4/jobs/1/trace"}, // a known path with another method
		{http.MethodPut, "/api/v4/jobs/abc"},
		{http.MethodPost, "/nope"},
	} {
		r := a.call(c.method, c.path, nil, nil)
		if r.status != http.StatusNotFound || strings.TrimSpace(string(r.body)) != `{"message":"404 Not Found"}` {
			t.Errorf("%s %s = %d %s, want 404 {\"message\":\"404 Not Found\"}", c.method, c.path, r.status, r.body)
		}
	}
}

// With a TokenLifetime every token issued carries its expiry, a reset gives a fresh one, and
// a token past its expiry is refused like an unknown one.
func TestTokenLifetime(t *testing.T) {
	const lifetime = time.Second
	s, a := start(t, coordinator.Options{TokenLifetime: lifetime, RegistrationToken: "reg", LongPoll: 10 * time.Millisecond})
	expiry := func(ta tokenAnswer) time.Time {
		t.Helper()
		if ta.TokenExpiresAt == nil {
			t.Fatalf("answer %+v carries no token_expires_at", ta)
		}
		at, err := time.Parse(time.RFC3339Nano, *ta.TokenExpiresAt)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}

	before := time.Now()
	token := s.AddRunner(coordinator.RunnerSpec{RunUntagged: true})
	r := a.json(http.MethodPost, "/api/v4/runners/verify", nil, map[string]string{"token": token})
	if r.status != http.StatusOK {
		t.Fatalf("verify = %d %s, want 200", r.status, r.body)
	}
	if at := expiry(decodeToken(t, r)); at.Before(before.Add(lifetime)) || at.After(time.Now().Add(lifetime)) {
		t.Errorf("verify: token_expires_at %v, want %v after AddRunner", at, lifetime)
	}
	if got := s.Runners()[0].TokenExpiresAt; got.IsZero() {
		t.Errorf("RunnerRecord.TokenExpiresAt is zero")
	}

	reg := a.json(http.MethodPost, "/api/v4/runners", nil, map[string]any{"token": "reg"})
	if reg.status != http.StatusCreated {
		t.Fatalf("register = %d %s, want 201", reg.status, reg.body)
	}
	expiry(decodeToken(t, reg))

	time.Sleep(lifetime / 2)
	r = a.json(http.MethodPost, "/api/v4/runners/reset_authentication_token", nil, map[string]string{"token": token})
	if r.status != http.StatusCreated {
		t.Fatalf("reset = %d %s, want 201", r.status, r.body)
	}
	fresh := decodeToken(t, r)
	resetAt := time.Now()
	if at := expiry(fresh); !at.After(resetAt.Add(lifetime - lifetime/4)) {
		t.Errorf("reset: token_expires_at %v, want about %v after the reset at %v", at, lifetime, resetAt)
	}

	// The old registration's token expires; the rotated one still works until its own expiry.
	time.Sleep(time.Until(before.Add(lifetime + 50*time.Millisecond)))
	if r := a.requestJob(decodeToken(t, reg).Token); r.status != http.StatusForbidden {
		t.Errorf("job request with an expired token = %d, want 403", r.status)
	}
	if r := a.requestJob(fresh.Token); r.status != http.StatusNoContent {
		t.Errorf("job request with the rotated token = %d %s, want 204", r.status, r.body)
	}
}
