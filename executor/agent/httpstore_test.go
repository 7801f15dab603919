package agent

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestHTTPStoreRoundTrip: a miss, a put, then the same bytes back; the job token goes
// along and the key is one escaped path segment.
func TestHTTPStoreRoundTrip(t *testing.T) {
	var mu sync.Mutex
	stored := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("JOB-TOKEN") != "tok" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		switch r.Method {
		case http.MethodGet:
			v, ok := stored[r.URL.EscapedPath()]
			if !ok {
				http.NotFound(w, r)
				return
			}
			io.WriteString(w, v)
		case http.MethodPut:
			b, _ := io.ReadAll(r.Body)
			stored[r.URL.EscapedPath()] = string(b)
		}
	}))
	defer srv.Close()
	s := HTTPStore{URL: srv.URL + "/cache/", Token: "tok"}
	ctx := context.Background()
	if _, err := s.Get(ctx, "project-1/deps"); !errors.Is(err, ErrCacheMiss) {
		t.Fatalf("Get before Put = %v, want ErrCacheMiss", err)
	}
	if err := s.Put(ctx, "project-1/deps", strings.NewReader("zip bytes")); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Get(ctx, "project-1/deps")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "zip bytes" {
		t.Errorf("Get = %q", b)
	}
	if _, ok := stored["/cache/project-1%2Fdeps"]; !ok {
		t.Errorf("stored under %v, want one escaped segment", stored)
	}
	bad := HTTPStore{URL: srv.URL + "/cache/", Token: "wrong"}
	if _, err := bad.Get(ctx, "k"); err == nil || errors.Is(err, ErrCacheMiss) || !strings.Contains(err.Error(), "403 Forbidden: no") {
		t.Errorf("Get with a wrong token = %v, want an error that is not a miss and gives the server's reason", err)
	}
	if err := bad.Put(ctx, "k", strings.NewReader("zip")); err == nil || !strings.Contains(err.Error(), "403 Forbidden: no") {
		t.Errorf("Put with a wrong token = %v, want the server's reason", err)
	}
}
