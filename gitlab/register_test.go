package gitlab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var expiry = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func TestRegisterWithAuthenticationTokenVerifies(t *testing.T) {
	srv, rec := newServer(t, answer(http.StatusOK, `{"id":12,"token":"`+runnerToken+`","token_expires_at":"2030-01-02T03:04:05Z"}`))
	got, err := newClient(t).Register(context.Background(), srv.URL, RegisterOptions{Token: runnerToken, SystemID: "s_0123456789ab"})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if d := cmp.Diff(Registration{ID: 12, Token: runnerToken, TokenExpiresAt: expiry}, got); d != "" {
		t.Errorf("registration -want +got:\n%s", d)
	}
	req := rec.last(t)
	if req.Method != http.MethodPost || req.Path != "/api/v4/runners/verify" {
		t.Errorf("request = %s %s, want POST /api/v4/runners/verify", req.Method, req.Path)
	}
	if req.Header.Get("User-Agent") != "kuberunner/1.2.3" || req.Header.Get("Accept") != "application/json" {
		t.Errorf("headers = %v", req.Header)
	}
	body := decodeJSON(t, req.Body)
	if body["token"] != runnerToken || body["system_id"] != "s_0123456789ab" {
		t.Errorf("body = %v, want token and system_id", body)
	}
}

func TestVerifyBare200(t *testing.T) {
	srv, _ := newServer(t, answer(http.StatusOK, ""))
	got, err := newClient(t).Verify(context.Background(), srv.URL, runnerToken, "s_0123456789ab")
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if d := cmp.Diff(Registration{Token: runnerToken}, got); d != "" {
		t.Errorf("registration -want +got:\n%s", d)
	}
}

func TestRegisterRefusesSettingsWithAuthenticationToken(t *testing.T) {
	srv, rec := newServer(t, answer(http.StatusOK, ""))
	tests := []struct {
		name string
		opts RegisterOptions
		want string
	}{
		{"tags", RegisterOptions{Tags: []string{"k8s"}}, "tags"},
		{"locked and paused", RegisterOptions{Locked: true, Paused: true}, "locked, paused"},
		{"run untagged", RegisterOptions{RunUntagged: true}, "run-untagged"},
		{"access level", RegisterOptions{AccessLevel: "ref_protected"}, "access-level"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Token = runnerToken
			_, err := newClient(t).Register(context.Background(), srv.URL, tc.opts)
			if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrInvalidOptions naming %q", err, tc.want)
			}
			checkNoSecret(t, err)
		})
	}
	if n := len(rec.all()); n != 0 {
		t.Errorf("server saw %d requests for refused registrations", n)
	}
}

func TestRegisterLegacy(t *testing.T) {
	srv, rec := newServer(t, answer(http.StatusCreated, `{"id":99,"token":"glrt-NEWtoken","token_expires_at":null}`))
	opts := RegisterOptions{
		Token: "GR1348941SECRETreg", Description: "k8s runner", Tags: []string{"k8s", "linux"},
		Locked: true, AccessLevel: "not_protected", MaximumTimeout: 3600,
	}
	got, err := newClient(t).Register(context.Background(), srv.URL, opts)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if d := cmp.Diff(Registration{ID: 99, Token: "glrt-NEWtoken"}, got); d != "" {
		t.Errorf("registration -want +got:\n%s", d)
	}
	req := rec.last(t)
	if req.Method != http.MethodPost || req.Path != "/api/v4/runners" || req.RawQuery != "" {
		t.Errorf("request = %s %s?%s, want POST /api/v4/runners with a JSON body", req.Method, req.Path, req.RawQuery)
	}
	want := map[string]any{
		"token": "GR1348941SECRETreg", "description": "k8s runner", "tag_list": []any{"k8s", "linux"},
		"run_untagged": false, "locked": true, "paused": false, "access_level": "not_protected",
		"maximum_timeout": 3600.0,
		"info":            map[string]any{"name": "kuberunner", "version": "1.2.3", "revision": "abc123", "platform": runtime.GOOS, "architecture": runtime.GOARCH},
	}
	if d := cmp.Diff(want, decodeJSON(t, req.Body)); d != "" {
		t.Errorf("body -want +got:\n%s", d)
	}
}

func TestRunnerTokenCalls(t *testing.T) {
	tests := []struct {
		name       string
		call       func(c *Client, url string) (Registration, error)
		answer     func(http.ResponseWriter, *http.Request, []byte)
		wantMethod string
		wantPath   string
		wantBody   map[string]any
		want       Registration
	}{
		{
			name: "unregister",
			call: func(c *Client, url string) (Registration, error) {
				return Registration{}, c.Unregister(context.Background(), url, runnerToken)
			},
			answer:     answer(http.StatusNoContent, ""),
			wantMethod: http.MethodDelete, wantPath: "/api/v4/runners",
			wantBody: map[string]any{"token": runnerToken},
		},
		{
			name: "unregister manager",
			call: func(c *Client, url string) (Registration, error) {
				return Registration{}, c.UnregisterManager(context.Background(), url, runnerToken, "r_abcdefabcdef")
			},
			answer:     answer(http.StatusNoContent, ""),
			wantMethod: http.MethodDelete, wantPath: "/api/v4/runners/managers",
			wantBody: map[string]any{"token": runnerToken, "system_id": "r_abcdefabcdef"},
		},
		{
			name: "reset token",
			call: func(c *Client, url string) (Registration, error) {
				return c.ResetToken(context.Background(), url, runnerToken)
			},
			answer:     answer(http.StatusCreated, `{"token":"glrt-ROTATED","token_expires_at":"2030-01-02T03:04:05Z"}`),
			wantMethod: http.MethodPost, wantPath: "/api/v4/runners/reset_authentication_token",
			wantBody: map[string]any{"token": runnerToken},
			want:     Registration{Token: "glrt-ROTATED", TokenExpiresAt: expiry},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, rec := newServer(t, tc.answer)
			got, err := tc.call(newClient(t), srv.URL)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("registration -want +got:\n%s", d)
			}
			req := rec.last(t)
			if req.Method != tc.wantMethod || req.Path != tc.wantPath {
				t.Errorf("request = %s %s, want %s %s", req.Method, req.Path, tc.wantMethod, tc.wantPath)
			}
			if req.RawQuery != "" {
				t.Errorf("query %q: the token belongs in the body, never the URL", req.RawQuery)
			}
			if req.Header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type = %q", req.Header.Get("Content-Type"))
			}
			if d := cmp.Diff(tc.wantBody, decodeJSON(t, req.Body)); d != "" {
				t.Errorf("body -want +got:\n%s", d)
			}
		})
	}
}

func TestRegistrationErrors(t *testing.T) {
	calls := map[string]func(c *Client, url string) error{
		"register legacy": func(c *Client, url string) error {
			_, err := c.Register(context.Background(), url, RegisterOptions{Token: "GR1348941SECRETreg"})
			return err
		},
		"verify": func(c *Client, url string) error {
			_, err := c.Verify(context.Background(), url, runnerToken, "s_0123456789ab")
			return err
		},
		"unregister": func(c *Client, url string) error { return c.Unregister(context.Background(), url, runnerToken) },
		"unregister manager": func(c *Client, url string) error {
			return c.UnregisterManager(context.Background(), url, runnerToken, "s_1")
		},
		"reset": func(c *Client, url string) error {
			_, err := c.ResetToken(context.Background(), url, runnerToken)
			return err
		},
	}
	statuses := []struct {
		status  int
		wantErr error
	}{
		{http.StatusForbidden, ErrForbidden},
		{http.StatusUnauthorized, ErrForbidden},
		{http.StatusNotFound, ErrNotFound},
		{http.StatusInternalServerError, ErrTransient},
		{http.StatusServiceUnavailable, ErrTransient},
	}
	for name, call := range calls {
		for _, st := range statuses {
			t.Run(name+"/"+http.StatusText(st.status), func(t *testing.T) {
				// The server echoes the token it was sent, the worst case for an error body.
				srv, _ := newServer(t, func(w http.ResponseWriter, _ *http.Request, body []byte) {
					var sent struct{ Token string }
					json.Unmarshal(body, &sent)
					w.WriteHeader(st.status)
					fmt.Fprintf(w, `{"message":"bad token %s"}`, sent.Token)
				})
				err := call(newClient(t), srv.URL)
				if !errors.Is(err, st.wantErr) {
					t.Fatalf("err = %v, want %v", err, st.wantErr)
				}
				checkNoSecret(t, err)
				if st.wantErr == ErrForbidden && !strings.Contains(err.Error(), srv.URL) {
					t.Errorf("403 error %q does not name the GitLab URL", err)
				}
			})
		}
		t.Run(name+"/connection refused", func(t *testing.T) {
			err := call(newClient(t), closedURL(t))
			if !errors.Is(err, ErrTransient) {
				t.Errorf("err = %v, want ErrTransient", err)
			}
			checkNoSecret(t, err)
		})
	}
}

func TestRegistrationRejectsBadURL(t *testing.T) {
	_, err := newClient(t).Verify(context.Background(), "ftp://user:SECRETpw@gitlab.example.com", runnerToken, "")
	if err == nil {
		t.Fatal("ftp URL accepted")
	}
	checkNoSecret(t, err)
}
