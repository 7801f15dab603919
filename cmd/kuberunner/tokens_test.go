package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/coordinator/coordinatortest"
	"github.com/kuberunner/kuberunner/metrics"
	"github.com/kuberunner/kuberunner/runner"
	"github.com/kuberunner/kuberunner/runner/runnertest"
)

// writeConfig saves a configuration of the given runners (name → token) and loads it back,
// as `run` starts from.
func writeConfig(t *testing.T, url string, tokens map[string]string) (string, *config.Config) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	c := config.Default()
	for _, name := range []string{"a", "b"} {
		if tok, ok := tokens[name]; ok {
			r := config.DefaultRunner()
			r.Name, r.URL, r.Token = name, url, tok
			c.Runners = append(c.Runners, r)
		}
	}
	if err := config.Save(path, c); err != nil {
		t.Fatal(err)
	}
	loaded, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, loaded
}

func TestTokenSaverWritesTheFile(t *testing.T) {
	path, file := writeConfig(t, "https://gitlab.example.com", map[string]string{"a": "glrt-old-a", "b": "glrt-b"})
	run := withOverrides(file, ":9999", "debug", "json")
	save := (&configFile{path: path, c: file}).tokenSaver()
	obtained := time.Date(2030, 1, 2, 3, 4, 5, 600, time.FixedZone("CET", 3600))
	expires := obtained.Add(90 * 24 * time.Hour)
	if err := save("a", "glrt-new-a", obtained, expires); err != nil {
		t.Fatalf("save: %v", err)
	}

	got, err := config.Load(path)
	if err != nil {
		t.Fatalf("Load after the save: %v", err)
	}
	a, _ := got.Runner("a")
	if a.Token != "glrt-new-a" || a.TokenObtainedAt != "2030-01-02T02:04:05Z" || a.TokenExpiresAt != "2030-04-02T02:04:05Z" {
		t.Errorf("saved runner a: token changed %v, obtained %q, expires %q", a.Token == "glrt-new-a", a.TokenObtainedAt, a.TokenExpiresAt)
	}
	if b, _ := got.Runner("b"); b.Token != "glrt-b" || b.TokenExpiresAt != "" {
		t.Errorf("runner b changed: %+v", b)
	}
	// The command line's overrides are for this run only.
	if got.ListenAddress != "" || got.LogLevel != "info" || got.LogFormat != "text" {
		t.Errorf("overrides reached the file: listen %q, level %q, format %q", got.ListenAddress, got.LogLevel, got.LogFormat)
	}
	if run.LogLevel != "debug" || file.LogLevel != "info" {
		t.Errorf("withOverrides: run level %q, file level %q; want debug and info", run.LogLevel, file.LogLevel)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config mode = %v (%v), want 0600", fi.Mode().Perm(), err)
	}

	if err := save("nope", "glrt-x", obtained, expires); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("save of an unknown runner = %v, want an error naming it", err)
	}
}

// TestRunRotatesTokenIntoConfigFile wires a Runner as `run` does (the GitLab client and the
// config file saver) against a fake GitLab whose tokens expire: the file ends up with
// GitLab's new token and its dates, and loads.
func TestRunRotatesTokenIntoConfigFile(t *testing.T) {
	srv, url := coordinatortest.Start(t, coordinator.Options{LongPoll: 50 * time.Millisecond, TokenLifetime: time.Second})
	old := srv.AddRunner(coordinator.RunnerSpec{RunUntagged: true})
	path, file := writeConfig(t, url, map[string]string{"a": old})
	ra, _ := file.Runner("a")
	ra.TokenExpiresAt = rfc3339(srv.Runners()[0].TokenExpiresAt)
	if err := config.Save(path, file); err != nil {
		t.Fatal(err)
	}

	m := metrics.New(prometheus.NewRegistry(), "test", "test")
	r, err := runner.New(runner.Options{
		Config:    withOverrides(file, "", "", ""),
		GitLab:    gitlabClientFor(m),
		Executor:  func(config.Runner) (runner.Executor, error) { return &runnertest.Executor{}, nil },
		Metrics:   m,
		Logger:    slog.New(slog.DiscardHandler),
		SystemID:  "s_0123456789ab",
		TraceDir:  t.TempDir(),
		SaveToken: (&configFile{path: path, c: file}).tokenSaver(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	deadline := time.Now().Add(20 * time.Second)
	var saved *config.Runner
	for saved == nil || saved.Token == old {
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("the rotated token never reached the config file")
		}
		time.Sleep(20 * time.Millisecond)
		if c, err := config.Load(path); err == nil {
			saved, _ = c.Runner("a")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	// Read again after Run returned: a later rotation may have saved a newer token.
	c, err := config.Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	saved, _ = c.Runner("a")
	gl := srv.Runners()[0]
	if saved.Token != gl.Token {
		t.Errorf("the file's token is not GitLab's current one")
	}
	if saved.TokenExpiresAt != rfc3339(gl.TokenExpiresAt) || saved.TokenObtainedAt == "" {
		t.Errorf("file: obtained %q expires %q; GitLab's expiry %s", saved.TokenObtainedAt, saved.TokenExpiresAt, rfc3339(gl.TokenExpiresAt))
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config mode = %v (%v), want 0600", fi.Mode().Perm(), err)
	}
}
