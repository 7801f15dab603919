package config

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// secretVolume lays files out as the kubelet does for a Secret volume: the data in a
// timestamped directory, ..data a symlink to it, and config.yaml a symlink through ..data.
// An update writes a new directory and swaps ..data in one rename.
type secretVolume struct {
	dir string
	n   int
}

func newSecretVolume(t *testing.T, content string) (*secretVolume, string) {
	v := &secretVolume{dir: t.TempDir()}
	v.update(t, content)
	path := filepath.Join(v.dir, "config.yaml")
	if err := os.Symlink(filepath.Join("..data", "config.yaml"), path); err != nil {
		t.Fatal(err)
	}
	return v, path
}

func (v *secretVolume) update(t *testing.T, content string) {
	t.Helper()
	v.n++
	ts := fmt.Sprintf("..2026_12_01_00_00_%02d.%d", v.n, v.n)
	if err := os.Mkdir(filepath.Join(v.dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v.dir, ts, "config.yaml"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(v.dir, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(v.dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

type loaded struct {
	c   *Config
	err error
}

// watch runs w until the test ends; what it applies arrives on the channel.
func watch(t *testing.T, w *Watcher, interval time.Duration, reload <-chan struct{}) <-chan loaded {
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan loaded, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Watch(ctx, interval, reload, func(c *Config, err error) { got <- loaded{c, err} })
	}()
	t.Cleanup(func() { cancel(); <-done })
	return got
}

func next(t *testing.T, got <-chan loaded) loaded {
	t.Helper()
	select {
	case l := <-got:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no reload")
		return loaded{}
	}
}

func nothing(t *testing.T, got <-chan loaded, why string) {
	t.Helper()
	select {
	case l := <-got:
		t.Fatalf("%s: reloaded %+v", why, l)
	case <-time.After(100 * time.Millisecond):
	}
}

const watchedRunner = runner + "reload_interval: 10ms\n"

func TestWatcherFollowsSecretVolumeUpdates(t *testing.T) {
	vol, path := newSecretVolume(t, watchedRunner)
	w := NewWatcher(path)
	if _, err := w.Load(); err != nil {
		t.Fatal(err)
	}
	reload := make(chan struct{})
	got := watch(t, w, 10*time.Millisecond, reload)
	nothing(t, got, "unchanged file")

	vol.update(t, "concurrent: 7\n"+watchedRunner)
	if l := next(t, got); l.err != nil || l.c.Concurrent != 7 {
		t.Fatalf("after the update: %+v, want concurrent 7", l)
	}
	vol.update(t, "concurrent: 7\n"+watchedRunner)
	nothing(t, got, "the same content written again")

	vol.update(t, "concurrent: 7\nconcurent: 8\n"+watchedRunner)
	l := next(t, got)
	if l.err == nil || !strings.Contains(l.err.Error(), path+":2: concurent: unknown key") {
		t.Fatalf("after a typo: %v, want the error naming %s:2", l.err, path)
	}
	nothing(t, got, "a file that stays broken")

	reload <- struct{}{}
	if l := next(t, got); l.err == nil {
		t.Fatal("a forced reload of a broken file did not report it again")
	}
	vol.update(t, "concurrent: 9\n"+watchedRunner)
	if l := next(t, got); l.err != nil || l.c.Concurrent != 9 {
		t.Fatalf("after the fix: %+v, want concurrent 9", l)
	}
}

func TestWatcherReloadOnlyOnDemand(t *testing.T) {
	vol, path := newSecretVolume(t, runner+"reload_interval: 0s\n")
	w := NewWatcher(path)
	if _, err := w.Load(); err != nil {
		t.Fatal(err)
	}
	reload := make(chan struct{})
	got := watch(t, w, 0, reload)
	vol.update(t, "concurrent: 3\n"+runner+"reload_interval: 0s\n")
	nothing(t, got, "polling off")
	reload <- struct{}{}
	if l := next(t, got); l.err != nil || l.c.Concurrent != 3 {
		t.Fatalf("forced reload: %+v, want concurrent 3", l)
	}
}
