package pipeline

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kuberunner/kuberunner/executor/agent"
)

// TestCacheServer: the agents' HTTPStore works against it, only with a running job's
// token, and what one pipeline saves the next finds on disk.
func TestCacheServer(t *testing.T) {
	dir := t.TempDir()
	mux := http.NewServeMux()
	mux.Handle(cachePath+"{key}", cacheServer{store: agent.DirStore{Dir: dir}, authorized: func(tok string) bool { return tok == "job-1" }})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := context.Background()
	s := agent.HTTPStore{URL: srv.URL + cachePath, Token: "job-1"}
	if _, err := s.Get(ctx, "project-1/deps"); !errors.Is(err, agent.ErrCacheMiss) {
		t.Fatalf("first Get = %v, want a miss", err)
	}
	if err := s.Put(ctx, "project-1/deps", strings.NewReader("archive")); err != nil {
		t.Fatal(err)
	}
	rc, err := agent.DirStore{Dir: dir}.Get(ctx, "project-1/deps") // the next pipeline's server reads it
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "archive" {
		t.Errorf("stored %q", b)
	}
	stranger := agent.HTTPStore{URL: srv.URL + cachePath, Token: "not-a-job"}
	if _, err := stranger.Get(ctx, "project-1/deps"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("Get with another token = %v, want 403", err)
	}
}
