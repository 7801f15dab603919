package agent

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/jobspec"
)

func TestCacheRoundTrip(t *testing.T) {
	cache := func(policy jobspec.CachePolicy) []jobspec.Cache {
		return []jobspec.Cache{{Key: "deps-$CI_COMMIT_REF_SLUG", Policy: policy, Paths: []string{"vendor/**"}, FallbackKeys: []string{"deps-main"}}}
	}
	ref := jobspec.Variable{Key: "CI_COMMIT_REF_SLUG", Value: "feature", Public: true}

	// A job that pushes the cache.
	push := addVars(baseJob("mkdir -p vendor/lib", "echo dep > vendor/lib/dep.txt"), ref)
	push.Cache = cache(jobspec.CachePullPush)
	e := newEnv(t, push)
	if code := Run(context.Background(), e.options()); code != 0 {
		t.Fatalf("run: %d\n%s", code, e.log.String())
	}
	if _, err := os.Stat(filepath.Join(e.cacheDir, "project-7%2Fdeps-feature.zip")); err != nil {
		t.Fatalf("cache archive not stored: %v\n%s", err, e.log.String())
	}

	// A later job of another pod pulls it into a fresh workspace.
	pull := addVars(baseJob("true"), ref)
	pull.Cache = cache(jobspec.CachePull)
	e2 := newEnv(t, pull)
	writeAgentConfigWithCache(t, e2, e.cacheDir)
	if code := Prepare(context.Background(), e2.options()); code != 0 {
		t.Fatalf("prepare: %d\n%s", code, e2.log.String())
	}
	got, err := os.ReadFile(filepath.Join(e2.project, "vendor/lib/dep.txt"))
	if err != nil || string(got) != "dep\n" {
		t.Errorf("restored file = %q, %v", got, err)
	}

	// A pull policy does not save, and a miss falls back to fallback_keys.
	other := addVars(baseJob("mkdir -p vendor/lib", "echo changed > vendor/lib/dep.txt"), jobspec.Variable{Key: "CI_COMMIT_REF_SLUG", Value: "main", Public: true})
	other.Cache = cache(jobspec.CachePull)
	e3 := newEnv(t, other)
	writeAgentConfigWithCache(t, e3, e.cacheDir)
	if code := Prepare(context.Background(), e3.options()); code != 0 {
		t.Fatalf("prepare: %d\n%s", code, e3.log.String())
	}
	if _, err := os.Stat(filepath.Join(e3.project, "vendor/lib/dep.txt")); !os.IsNotExist(err) {
		t.Errorf("restored a cache that does not exist for key deps-main: %v", err)
	}
	if code := Run(context.Background(), e3.options()); code != 0 {
		t.Fatalf("run: %d\n%s", code, e3.log.String())
	}
	entries, err := os.ReadDir(e.cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("cache folder has %d entries, want 1 (pull must not push)", len(entries))
	}
}

func writeAgentConfigWithCache(t *testing.T, e *env, cacheDir string) {
	t.Helper()
	e.cacheDir = cacheDir
	cfg := jobpod.Config{GitLabURL: "https://gitlab.example.com", BuildsDir: e.builds, ProjectDir: e.project, CacheDir: cacheDir}
	if err := os.WriteFile(filepath.Join(e.jobDir, jobpod.ConfigFile), mustJSON(t, cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDirStorePutReadableByAll: the archive is written by the job image's user and read by
// the prepare container's, which is another one.
func TestDirStorePutReadableByAll(t *testing.T) {
	dir := t.TempDir()
	store := DirStore{Dir: dir}
	if err := store.Put(context.Background(), "project-1/k", bytes.NewReader([]byte("zip"))); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "project-1%2Fk.zip"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(os.FileMode(0o644), fi.Mode().Perm()); diff != "" {
		t.Errorf("archive mode (-want +got):\n%s", diff)
	}
}

func TestPrepareDownloadsDependencies(t *testing.T) {
	job := baseJob("true")
	job.Dependencies = []jobspec.Dependency{
		{ID: 40, Token: "dep-token-40", Name: "build", ArtifactsFile: &jobspec.ArtifactsFile{Filename: "artifacts.zip"}},
		{ID: 41, Token: "dep-token-41", Name: "lint"}, // no artifacts: not downloaded
	}
	e := newEnv(t, job)
	e.artifacts.downloads[40] = zipOf(t, map[string]string{"bin/app": "binary", "../escape": "x", "/abs": "y"})
	if code := Prepare(context.Background(), e.options()); code != 0 {
		t.Fatalf("prepare: %d\n%s", code, e.log.String())
	}
	if got, err := os.ReadFile(filepath.Join(e.project, "bin/app")); err != nil || string(got) != "binary" {
		t.Errorf("bin/app = %q, %v", got, err)
	}
	if d := cmp.Diff([]string{"dep-token-40"}, e.artifacts.tokens); d != "" {
		t.Errorf("download tokens -want +got:\n%s", d)
	}
	for _, p := range []string{filepath.Join(e.builds, "group", "escape"), filepath.Join(e.project, "abs")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was extracted", p)
		}
	}
}

func TestPrepareFailsOnMissingDependency(t *testing.T) {
	job := baseJob("true")
	job.Dependencies = []jobspec.Dependency{{ID: 40, Token: "dep-token-40", Name: "build", ArtifactsFile: &jobspec.ArtifactsFile{Filename: "artifacts.zip"}}}
	e := newEnv(t, job)
	if code := Prepare(context.Background(), e.options()); code == 0 {
		t.Fatal("prepare succeeded without the dependency's artifacts")
	}
	if f := e.failure(t); f == nil || f.Reason != string(jobspec.RunnerSystemFailure) {
		t.Errorf("termination message = %+v", f)
	}
}

func TestExtractDoesNotFollowLinks(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	zipPath := filepath.Join(t.TempDir(), "a.zip")
	if err := os.WriteFile(zipPath, zipOf(t, map[string]string{"link/planted": "x", "ok": "y"}), 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := extractZip(zipPath, dir)
	if err == nil {
		t.Errorf("extractZip wrote through a link (%d files)", n)
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); err == nil {
		t.Error("file planted outside the folder")
	}
}

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestNoCacheStoreIsSaid: a job with cache: on a runner without a store says so in its log,
// in prepare and after the script, instead of silence.
func TestNoCacheStoreIsSaid(t *testing.T) {
	j := baseJob("true")
	j.Cache = []jobspec.Cache{{Key: "deps", Policy: jobspec.CachePullPush, Paths: []string{"vendor/"}}}
	e := newEnv(t, j)
	cfg := jobpod.Config{GitLabURL: "https://gitlab.example.com", BuildsDir: e.builds, ProjectDir: e.project}
	if err := os.WriteFile(filepath.Join(e.jobDir, jobpod.ConfigFile), mustJSON(t, cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if code := Prepare(context.Background(), e.options()); code != 0 {
		t.Fatalf("prepare: %d\n%s", code, e.log.String())
	}
	if code := Run(context.Background(), e.options()); code != 0 {
		t.Fatalf("run: %d\n%s", code, e.log.String())
	}
	if n := strings.Count(e.log.String(), "this runner has no cache store"); n != 2 {
		t.Errorf("the log says %d times that there is no cache store, want 2 (restore, save):\n%s", n, e.log.String())
	}
}

// TestCacheSkipsAreLogged: a cache that is not restored or not saved says why, so the log
// tells for every cache what became of it.
func TestCacheSkipsAreLogged(t *testing.T) {
	job := baseJob("exit 3")
	job.Cache = []jobspec.Cache{
		{Key: "deps", Paths: []string{"vendor"}},
		{Key: "ro", Paths: []string{"vendor"}, Policy: jobspec.CachePull},
		{Key: "wo", Paths: []string{"vendor"}, Policy: jobspec.CachePush, When: jobspec.WhenAlways},
	}
	e := newEnv(t, job)
	if code := Prepare(context.Background(), e.options()); code != 0 {
		t.Fatalf("prepare: %d\n%s", code, e.log.String())
	}
	if code := Run(context.Background(), e.options()); code != 3 {
		t.Fatalf("run: %d\n%s", code, e.log.String())
	}
	for _, want := range []string{
		`No cache found for "deps"`,
		`Not restoring cache "wo": its policy is push`,
		`Not saving cache "deps": it is saved when on_success and the job status is failed`,
		`Not saving cache "ro": its policy is pull`,
		`cache "wo": no files to save`,
	} {
		if !strings.Contains(e.log.String(), want) {
			t.Errorf("log does not say %q:\n%s", want, e.log.String())
		}
	}
}
