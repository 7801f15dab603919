package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/coordinator/coordinatortest"
	"github.com/kuberunner/kuberunner/internal/testio"
	"github.com/kuberunner/kuberunner/metrics"
	"github.com/kuberunner/kuberunner/runner"
	"github.com/kuberunner/kuberunner/runner/runnertest"
)

type fakeRunner struct {
	mu    sync.Mutex
	calls []*config.Config
}

func (f *fakeRunner) Reload(c *config.Config) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	return 0, nil
}

func newTestReloader(t *testing.T, path string, file *config.Config, flags overrides) (*reloader, *fakeRunner, *testio.Buffer) {
	logs := &testio.Buffer{}
	level := new(slog.LevelVar)
	logger, err := newLogger(logs, level, "info", "text")
	if err != nil {
		t.Fatal(err)
	}
	fr := &fakeRunner{}
	return &reloader{runner: fr, file: &configFile{path: path, c: file}, flags: flags, running: flags.apply(file),
		level: level, log: logger, metrics: metrics.New(prometheus.NewRegistry(), "test", "test")}, fr, logs
}

// TestReloaderRefusesInvalidFile: a file that does not load is refused with its place,
// the runner is not touched; the next good one is applied with the command line's settings.
func TestReloaderRefusesInvalidFile(t *testing.T) {
	path, file := writeConfig(t, "https://gitlab.example.com", map[string]string{"a": "glrt-a"})
	rl, fr, logs := newTestReloader(t, path, file, overrides{logFormat: "json"})
	w := config.NewWatcher(path)
	if _, err := w.Load(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Watch(ctx, 5*time.Millisecond, nil, rl.apply) }()
	defer func() { cancel(); <-done }()

	data, _ := os.ReadFile(path)
	if err := replaceFile(path, append([]byte("concurent: 2\n"), data...)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the refusal", func() bool { return strings.Contains(logs.String(), "config not reloaded") })
	if !strings.Contains(logs.String(), path+":1: concurent: unknown key") || !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("refusal without its place, or not an error:\n%s", logs.String())
	}
	fr.mu.Lock()
	calls := len(fr.calls)
	fr.mu.Unlock()
	if calls != 0 {
		t.Fatalf("an invalid file reached the runner")
	}

	good := strings.Replace(string(data), "log_level: info", "log_level: debug", 1)
	good = strings.Replace(good, `listen_address: ""`, `listen_address: ":9999"`, 1)
	if err := replaceFile(path, []byte(good)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload", func() bool { fr.mu.Lock(); defer fr.mu.Unlock(); return len(fr.calls) == 1 })
	fr.mu.Lock()
	got := fr.calls[0]
	fr.mu.Unlock()
	if got.LogFormat != "json" || got.ListenAddress != "" || rl.level.Level() != slog.LevelDebug {
		t.Errorf("reloaded: format %q, listen %q, level %v; want the flag's json, no listener, debug", got.LogFormat, got.ListenAddress, rl.level.Level())
	}
	if !strings.Contains(logs.String(), "listen_address needs a restart") {
		t.Errorf("listen_address change not logged as needing a restart:\n%s", logs.String())
	}
}

// replaceFile gives path new content at once, as an editor or a Secret volume does: the
// watcher polls every few milliseconds and must never read a half-written file (an empty
// one is a valid configuration with no runners).
func replaceFile(path string, data []byte) error {
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSIGHUPReloads: SIGHUP asks for a reload and neither stops nor aborts the runner.
func TestSIGHUPReloads(t *testing.T) {
	// Registered first, so a SIGHUP sent before handleSignals listens does not end the test.
	guard := make(chan os.Signal, 10)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reload := make(chan struct{}, 1)
	stopped, aborted := false, false
	done := make(chan struct{})
	go func() {
		defer close(done)
		handleSignals(ctx, func() { stopped = true }, func() { aborted = true }, reload, slog.New(slog.DiscardHandler))
	}()
	deadline := time.After(20 * time.Second)
	for got := false; !got; {
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		select {
		case <-reload:
			got = true
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatal("SIGHUP asked for no reload")
		}
	}
	cancel()
	<-done
	if stopped || aborted {
		t.Errorf("SIGHUP stopped (%v) or aborted (%v) the runner", stopped, aborted)
	}
}

// TestRotationWriteIsNoReload wires the runner, the token saver and the Watcher as `run`
// does: the rotation's write of the file is read back as the same runner, nothing changes.
func TestRotationWriteIsNoReload(t *testing.T) {
	srv, url := coordinatortest.Start(t, coordinator.Options{LongPoll: 50 * time.Millisecond, TokenLifetime: time.Second})
	old := srv.AddRunner(coordinator.RunnerSpec{RunUntagged: true})
	path, file := writeConfig(t, url, map[string]string{"a": old})
	ra, _ := file.Runner("a")
	ra.TokenExpiresAt = rfc3339(srv.Runners()[0].TokenExpiresAt)
	if err := config.Save(path, file); err != nil {
		t.Fatal(err)
	}
	w := config.NewWatcher(filepath.Clean(path))
	file, err := w.Load()
	if err != nil {
		t.Fatal(err)
	}
	rl, _, logs := newTestReloader(t, path, file, overrides{})
	rl.level.Set(slog.LevelDebug)
	m := metrics.New(prometheus.NewRegistry(), "test", "test")
	r, err := runner.New(runner.Options{
		Config: rl.running, GitLab: gitlabClientFor(m), Metrics: m, Logger: rl.log,
		Executor: func(config.Runner) (runner.Executor, error) { return &runnertest.Executor{}, nil },
		SystemID: "s_0123456789ab", TraceDir: t.TempDir(),
		SaveToken: rl.file.tokenSaver(),
	})
	if err != nil {
		t.Fatal(err)
	}
	rl.runner = r
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- r.Run(ctx) }()
	go func() { w.Watch(ctx, 5*time.Millisecond, nil, rl.apply); done <- nil }()
	waitFor(t, "the rotation read back", func() bool { return strings.Contains(logs.String(), "nothing changed") })
	cancel()
	for range 2 {
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	if s := logs.String(); strings.Contains(s, "config reloaded:") || !strings.Contains(s, "runner token rotated") {
		t.Errorf("the rotation's write was taken for a change:\n%s", s)
	}
}
