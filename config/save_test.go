package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func fullConfig() *Config {
	c := Default()
	c.Concurrent = 4
	c.CheckInterval = Duration(1500 * time.Millisecond)
	c.ListenAddress = ":9252"
	a := DefaultRunner()
	a.Name, a.URL, a.Token, a.ID = "a", "https://gitlab.example.com", "glrt-a", 7
	a.TokenExpiresAt, a.TokenObtainedAt = "2030-01-02T03:04:05Z", "2029-10-02T03:04:05Z"
	a.Kubernetes.HelperImage = "registry.example.com/kuberunner:1"
	b := DefaultRunner()
	b.Name, b.URL, b.Token = "b", "http://127.0.0.1:8080", "glrt-b"
	b.Limit, b.OutputLimit = 2, 0 // an explicit 0 must survive the round trip
	c.Runners = []Runner{a, b}
	return c
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	// An existing, more open file: Save must still leave 0600.
	if err := os.WriteFile(path, []byte("concurrent: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := fullConfig()
	if err := Save(path, want); err != nil {
		t.Fatalf("Save: %v", err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatalf("Load after Save: %v", err)
	}
	if diff := cmp.Diff(want, got, ignoreSource); diff != "" {
		t.Errorf("round trip mismatch (-want +got):\n%s", diff)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("mode = %v, want 0600", mode)
	}
	assertOnlyFile(t, dir, "config.yaml")
}

func TestSaveRefusesInvalidConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	old := []byte("concurrent: 3\n")
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	c := fullConfig()
	c.Runners[1].Name = "a"
	if err := Save(path, c); err == nil {
		t.Fatal("Save of a config with duplicate runner names succeeded")
	}
	assertContent(t, path, old)
	assertOnlyFile(t, dir, "config.yaml")
}

// TestSaveFailureKeepsOldFile makes each step of the atomic write fail in turn. The
// tests run as root, for whom a read-only directory does not stop a write, so the
// read-only directory is the "create" step failing with EACCES, as the kernel does.
func TestSaveFailureKeepsOldFile(t *testing.T) {
	boom := errors.New("boom")
	for _, step := range []string{"create", "chmod", "write", "sync", "close", "rename"} {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "config.yaml")
			old := []byte("concurrent: 3\n")
			if err := os.WriteFile(path, old, 0o600); err != nil {
				t.Fatal(err)
			}
			fail := boom
			if step == "create" {
				fail = &fs.PathError{Op: "open", Path: dir, Err: fs.ErrPermission}
			}
			err := writeAtomic(path, []byte("concurrent: 4\n"), failingFS{step: step, err: fail})
			if !errors.Is(err, fail) {
				t.Fatalf("writeAtomic failing at %s = %v, want it to wrap %v", step, err, fail)
			}
			assertContent(t, path, old)
			assertOnlyFile(t, dir, "config.yaml")
		})
	}
}

func TestSaveReportsDirSyncFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	boom := errors.New("boom")
	err := writeAtomic(path, []byte("concurrent: 4\n"), failingFS{step: "syncdir", err: boom})
	if !errors.Is(err, boom) {
		t.Fatalf("writeAtomic = %v, want the directory sync error", err)
	}
	// The rename happened: the new content is in place, only its durability is in doubt.
	assertContent(t, path, []byte("concurrent: 4\n"))
}

// failingFS is the real filesystem with one step failing.
type failingFS struct {
	step string
	err  error
}

func (f failingFS) CreateTemp(dir, pattern string) (file, error) {
	if f.step == "create" {
		return nil, f.err
	}
	tmp, err := osFS{}.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return failingFile{file: tmp, failingFS: f}, nil
}

func (f failingFS) Rename(oldpath, newpath string) error {
	if f.step == "rename" {
		return f.err
	}
	return osFS{}.Rename(oldpath, newpath)
}

func (f failingFS) Remove(name string) error { return osFS{}.Remove(name) }

func (f failingFS) SyncDir(dir string) error {
	if f.step == "syncdir" {
		return f.err
	}
	return osFS{}.SyncDir(dir)
}

type failingFile struct {
	file
	failingFS
}

func (f failingFile) Chmod(mode os.FileMode) error {
	if f.step == "chmod" {
		return f.err
	}
	return f.file.Chmod(mode)
}

func (f failingFile) Write(p []byte) (int, error) {
	if f.step == "write" {
		// Half a write, as a full disk gives.
		n, _ := f.file.Write(p[:len(p)/2])
		return n, f.err
	}
	return f.file.Write(p)
}

func (f failingFile) Sync() error {
	if f.step == "sync" {
		return f.err
	}
	return f.file.Sync()
}

func (f failingFile) Close() error {
	err := f.file.Close()
	if f.step == "close" {
		return f.err
	}
	return err
}

func assertContent(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s content mismatch (-want +got):\n%s", path, diff)
	}
}

func assertOnlyFile(t *testing.T, dir, name string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if diff := cmp.Diff([]string{name}, got); diff != "" {
		t.Errorf("files in %s (-want +got):\n%s", dir, diff)
	}
}
