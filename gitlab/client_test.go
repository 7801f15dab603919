package gitlab

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCAFileTrustsPrivateCA(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v4/runners/verify":
			w.Write([]byte(`{"id":1,"token":"t"}`))
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	rc := RunnerCredentials{URL: srv.URL, Token: runnerToken}

	if _, _, err := newClient(t).RequestJob(context.Background(), rc, ""); err == nil {
		t.Fatal("a server signed by an unknown CA was trusted without CAFile")
	}
	trusting := newClient(t, func(o *Options) { o.CAFile = caFile })
	if _, _, err := trusting.RequestJob(context.Background(), rc, ""); err != nil {
		t.Errorf("RequestJob with CAFile: %v", err)
	}
	// The GitLab library used for registration goes through the same transport.
	if _, err := trusting.Verify(context.Background(), srv.URL, runnerToken, ""); err != nil {
		t.Errorf("Verify with CAFile: %v", err)
	}
}

func TestNewRejectsBadCAFile(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{notPEM, filepath.Join(t.TempDir(), "missing.pem")} {
		if _, err := New(Options{CAFile: path}); err == nil {
			t.Errorf("New accepted CA file %s", path)
		}
	}
}

type observation struct {
	Endpoint, Method string
	Status           int
}

func TestObserver(t *testing.T) {
	var (
		mu  sync.Mutex
		got []observation
	)
	c := newClient(t, func(o *Options) {
		o.Observer = func(endpoint, method string, status int, d time.Duration) {
			if d < 0 {
				t.Errorf("negative duration %v", d)
			}
			mu.Lock()
			got = append(got, observation{endpoint, method, status})
			mu.Unlock()
		}
	})
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		switch r.URL.Path {
		case "/api/v4/jobs/request":
			w.WriteHeader(http.StatusNoContent)
		case "/api/v4/runners/verify":
			w.WriteHeader(http.StatusForbidden)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	})
	jc := JobCredentials{URL: srv.URL, ID: 3, Token: jobToken}
	c.RequestJob(context.Background(), RunnerCredentials{URL: srv.URL, Token: runnerToken}, "")
	c.PatchTrace(context.Background(), jc, 0, []byte("x"))
	c.UpdateJob(context.Background(), jc, UpdateJobRequest{State: StateRunning})
	c.Verify(context.Background(), srv.URL, runnerToken, "")
	c.UpdateJob(context.Background(), JobCredentials{URL: closedURL(t), ID: 3, Token: jobToken}, UpdateJobRequest{State: StateRunning})

	want := []observation{
		{"jobs/request", "POST", 204},
		{"jobs/:id/trace", "PATCH", 202},
		{"jobs/:id", "PUT", 202},
		{"runners/verify", "POST", 403},
		{"jobs/:id", "PUT", 0},
	}
	mu.Lock()
	defer mu.Unlock()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("observations -want +got:\n%s", d)
	}
}

// TestTokensNeverInErrors drives every call into every kind of failure with a server that
// echoes the token, and checks no error text holds it.
func TestTokensNeverInErrors(t *testing.T) {
	echo := func(status int) func(http.ResponseWriter, *http.Request, []byte) {
		return func(w http.ResponseWriter, r *http.Request, body []byte) {
			w.Header().Set("Range", "garbage")
			w.WriteHeader(status)
			w.Write([]byte(r.Header.Get("Job-Token") + r.Header.Get("Runner-Token") + string(body)))
		}
	}
	calls := map[string]func(c *Client, url string) error{
		"request": func(c *Client, url string) error {
			_, _, err := c.RequestJob(context.Background(), RunnerCredentials{URL: url, Token: runnerToken}, "")
			return err
		},
		"update": func(c *Client, url string) error {
			_, err := c.UpdateJob(context.Background(), JobCredentials{URL: url, ID: 1, Token: jobToken}, UpdateJobRequest{State: StateFailed})
			return err
		},
		"trace": func(c *Client, url string) error {
			_, err := c.PatchTrace(context.Background(), JobCredentials{URL: url, ID: 1, Token: jobToken}, 0, []byte("x"))
			return err
		},
		"upload": func(c *Client, url string) error {
			return c.UploadArtifacts(context.Background(), JobCredentials{URL: url, ID: 1, Token: jobToken}, ArtifactsOptions{}, strings.NewReader("PK"))
		},
		"download": func(c *Client, url string) error {
			return c.DownloadArtifacts(context.Background(), JobCredentials{URL: url, ID: 1, Token: jobToken}, nopWriter{})
		},
		"verify": func(c *Client, url string) error {
			_, err := c.Verify(context.Background(), url, runnerToken, "")
			return err
		},
	}
	statuses := []int{400, 401, 403, 404, 409, 413, 416, 422, 500, 503}
	var failures int
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			for _, st := range statuses {
				srv, _ := newServer(t, echo(st))
				if err := call(newClient(t), srv.URL); err != nil {
					failures++
					checkNoSecret(t, err)
				}
			}
			checkNoSecret(t, call(newClient(t), closedURL(t)))
		})
	}
	if failures < len(calls)*5 {
		t.Errorf("only %d calls failed; the test is not exercising error paths", failures)
	}
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

func TestAPIURL(t *testing.T) {
	tests := []struct{ base, want string }{
		{"https://gitlab.example.com", "https://gitlab.example.com/api/v4/jobs/request"},
		{"https://gitlab.example.com/", "https://gitlab.example.com/api/v4/jobs/request"},
		{"https://example.com/gitlab/", "https://example.com/gitlab/api/v4/jobs/request"},
		{"https://gitlab.example.com/api/v4", "https://gitlab.example.com/api/v4/jobs/request"},
		{"https://user:pw@gitlab.example.com", "https://gitlab.example.com/api/v4/jobs/request"},
	}
	for _, tc := range tests {
		got, err := apiURL(tc.base, "jobs/request")
		if err != nil || got != tc.want {
			t.Errorf("apiURL(%q) = %q, %v; want %q", tc.base, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "gitlab.example.com", "ftp://gitlab.example.com", "https://"} {
		if _, err := apiURL(bad, "x"); err == nil {
			t.Errorf("apiURL(%q) accepted", bad)
		}
	}
}

func TestTransientClassification(t *testing.T) {
	if !errors.Is(&StatusError{Code: 502}, ErrTransient) || errors.Is(&StatusError{Code: 400}, ErrTransient) {
		t.Error("StatusError.Is does not follow 5xx/429")
	}
}

func TestSameOrigin(t *testing.T) {
	tests := []struct {
		orig, next string
		want       bool
	}{
		{"https://gitlab.example.com/api", "https://gitlab.example.com/other", true},
		{"http://gitlab.example.com/api", "https://gitlab.example.com/api", true},
		{"https://gitlab.example.com/api", "http://gitlab.example.com/api", false},
		{"https://gitlab.example.com/api", "https://storage.example.com/obj", false},
		{"http://127.0.0.1:8080/api", "http://127.0.0.1:9090/api", false},
	}
	for _, tc := range tests {
		orig, _ := url.Parse(tc.orig)
		next, _ := url.Parse(tc.next)
		if got := sameOrigin(next, orig); got != tc.want {
			t.Errorf("sameOrigin(%s from %s) = %v, want %v", tc.next, tc.orig, got, tc.want)
		}
	}
}

func TestJSONCallsDoNotFollowRedirectsOffOrigin(t *testing.T) {
	other, otherRec := newServer(t, answer(http.StatusNoContent, ""))
	srv, _ := newServer(t, answer(http.StatusTemporaryRedirect, "", "Location", other.URL+"/api/v4/jobs/request"))
	_, _, err := newClient(t).RequestJob(context.Background(), RunnerCredentials{URL: srv.URL, Token: runnerToken}, "")
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusTemporaryRedirect {
		t.Errorf("err = %v, want the 307 reported as a *StatusError", err)
	}
	if n := len(otherRec.all()); n != 0 {
		t.Errorf("the other host received %d requests carrying the runner token in the body", n)
	}
}

// Every endpoint maps the answers it has no meaning of its own for in one way: 401
// ErrForbidden and 404 ErrNotFound naming the server (never a path or query), 400 a
// *StatusError that is not transient.
func TestOneErrorMapping(t *testing.T) {
	calls := map[string]func(c *Client, url string) error{
		"request job": func(c *Client, url string) error {
			_, _, err := c.RequestJob(context.Background(), RunnerCredentials{URL: url + "/sub?x=SECRETq", Token: runnerToken}, "")
			return err
		},
		"patch trace": func(c *Client, url string) error {
			_, err := c.PatchTrace(context.Background(), JobCredentials{URL: url + "/sub", ID: 1, Token: jobToken}, 0, []byte("x"))
			return err
		},
		"download": func(c *Client, url string) error {
			return c.DownloadArtifacts(context.Background(), JobCredentials{URL: url + "/sub", ID: 1, Token: jobToken}, io.Discard)
		},
		"verify": func(c *Client, url string) error {
			_, err := c.Verify(context.Background(), url+"/sub", runnerToken, "")
			return err
		},
	}
	for name, call := range calls {
		for _, st := range []struct {
			status int
			want   error
		}{{http.StatusUnauthorized, ErrForbidden}, {http.StatusNotFound, ErrNotFound}, {http.StatusBadRequest, nil}} {
			if name == "patch trace" && st.status == http.StatusNotFound {
				continue // its own meaning: the job is gone, abort (PatchTraceResult.Abort)
			}
			t.Run(fmt.Sprintf("%s/%d", name, st.status), func(t *testing.T) {
				srv, _ := newServer(t, answer(st.status, `{"message":"no"}`))
				err := call(newClient(t), srv.URL)
				checkNoSecret(t, err)
				if st.want == nil {
					var se *StatusError
					if !errors.As(err, &se) || se.Code != st.status || errors.Is(err, ErrTransient) {
						t.Errorf("err = %v, want a non-transient *StatusError %d", err, st.status)
					}
					return
				}
				if !errors.Is(err, st.want) || !strings.Contains(err.Error(), " at "+srv.URL+":") {
					t.Errorf("err = %v, want %v naming %s", err, st.want, srv.URL)
				}
			})
		}
	}
}
