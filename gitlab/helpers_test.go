package gitlab

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	runnerToken = "glrt-SECRETrunnerTOKEN"
	jobToken    = "glcbt-SECRETjobTOKEN"
)

// seen is what a test server saw of one request.
type seen struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
}

// recorder serves with h and keeps every request it saw.
type recorder struct {
	mu   sync.Mutex
	reqs []seen
}

func (rec *recorder) all() []seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seen(nil), rec.reqs...)
}

// last fails the test when no request arrived.
func (rec *recorder) last(t *testing.T) seen {
	t.Helper()
	all := rec.all()
	if len(all) == 0 {
		t.Fatal("the server saw no request")
	}
	return all[len(all)-1]
}

// newServer starts an httptest server whose handler sees the request after its body has been
// read into the recorder.
func newServer(t *testing.T, h func(w http.ResponseWriter, r *http.Request, body []byte)) (*httptest.Server, *recorder) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
		rec.mu.Unlock()
		h(w, r, body)
	}))
	t.Cleanup(srv.Close)
	return srv, rec
}

// answer replies with a fixed status, headers and body.
func answer(status int, body string, headers ...string) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func newClient(t *testing.T, mod ...func(*Options)) *Client {
	t.Helper()
	o := Options{Version: "1.2.3", Revision: "abc123", Timeout: 10 * time.Second, Features: DefaultFeatures(), Executor: "kubernetes", Shell: "bash"}
	for _, m := range mod {
		m(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("request body is not a JSON object: %v: %s", err, b)
	}
	return m
}

// checkNoSecret fails when err's text holds any secret.
func checkNoSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{runnerToken, jobToken, "SECRET"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error text leaks a secret: %q", err.Error())
		}
	}
}

// closedURL is the URL of a server that is no longer listening.
func closedURL(t *testing.T) string {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	return u
}
