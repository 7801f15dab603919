package agent

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/internal/testio"
	"github.com/kuberunner/kuberunner/jobspec"
)

// TestMain doubles as the agent binary: with KR_STEP_TEST set, the test binary runs
// `step run` or `step prepare` as cmd would, so signal handling is tested on a real process.
func TestMain(m *testing.M) {
	mode := os.Getenv("KR_STEP_TEST")
	if mode == "" {
		os.Exit(m.Run())
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	o := Options{
		JobDir:         os.Getenv("KR_STEP_JOB_DIR"),
		BinDir:         os.Getenv("KR_STEP_BIN_DIR"),
		TerminationLog: os.Getenv("KR_STEP_TERMINATION_LOG"),
		Artifacts:      &dirArtifacts{dir: os.Getenv("KR_STEP_UPLOAD_DIR")},
	}
	if mode == "prepare" {
		os.Exit(Prepare(ctx, o))
	}
	os.Exit(Run(ctx, o))
}

// env is a job's surroundings in a temporary folder: /builds, /kr/job, /kr/bin, the
// termination log and the cache folder.
type env struct {
	root, builds, project, jobDir, binDir, termLog, cacheDir string
	log                                                      *testio.Buffer
	artifacts                                                *fakeArtifacts
}

func newEnv(t *testing.T, job *jobspec.Job) *env {
	t.Helper()
	root := t.TempDir()
	e := &env{
		root:      root,
		builds:    filepath.Join(root, "builds"),
		jobDir:    filepath.Join(root, "job"),
		binDir:    filepath.Join(root, "bin"),
		termLog:   filepath.Join(root, "termination-log"),
		cacheDir:  filepath.Join(root, "cache"),
		log:       &testio.Buffer{},
		artifacts: &fakeArtifacts{downloads: map[int64][]byte{}},
	}
	e.project = filepath.Join(e.builds, "group", "app")
	cfg := jobpod.Config{GitLabURL: "https://gitlab.example.com", BuildsDir: e.builds, ProjectDir: e.project, CacheDir: e.cacheDir}
	for _, f := range []struct {
		name string
		v    any
	}{{jobpod.JobFile, job}, {jobpod.ConfigFile, cfg}} {
		b, err := json.Marshal(f.v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(e.jobDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.jobDir, f.name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *env) options() Options {
	return Options{JobDir: e.jobDir, BinDir: e.binDir, TerminationLog: e.termLog, Log: e.log, Artifacts: e.artifacts,
		CgroupDir: filepath.Join(e.root, "cgroup")}
}

// failure reads the termination message, nil if there is none.
func (e *env) failure(t *testing.T) *jobpod.Failure {
	t.Helper()
	b, err := os.ReadFile(e.termLog)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var f jobpod.Failure
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("termination log %q: %v", b, err)
	}
	return &f
}

// baseJob is a job with the given script that needs no sources.
func baseJob(script ...string) *jobspec.Job {
	return &jobspec.Job{
		ID: 42, Token: "job-token-s3cr3t",
		JobInfo:    jobspec.JobInfo{ProjectID: 7, ProjectFullPath: "group/app"},
		RunnerInfo: jobspec.RunnerInfo{Timeout: 600},
		Variables: jobspec.Variables{
			{Key: "GIT_STRATEGY", Value: "none", Public: true},
			{Key: "CI_JOB_TOKEN", Value: "job-token-s3cr3t", Masked: true},
		},
		Steps: []jobspec.Step{{Name: jobspec.StepScript, Script: script, Timeout: 600, When: jobspec.WhenOnSuccess}},
	}
}

func withAfterScript(j *jobspec.Job, lines ...string) *jobspec.Job {
	j.Steps = append(j.Steps, jobspec.Step{Name: jobspec.StepAfterScript, Script: lines, Timeout: 300, When: jobspec.WhenAlways})
	return j
}

type upload struct {
	opts  gitlab.ArtifactsOptions
	jc    gitlab.JobCredentials
	bytes []byte
}

// fakeArtifacts is GitLab's artifact endpoints in memory.
type fakeArtifacts struct {
	mu        sync.Mutex
	uploads   []upload
	downloads map[int64][]byte // job ID -> zip
	tokens    []string         // tokens used for downloads
	// failUploads are the errors the next uploads fail with, after reading part of the body.
	failUploads []error
}

func (f *fakeArtifacts) DownloadArtifacts(_ context.Context, jc gitlab.JobCredentials, w io.Writer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens = append(f.tokens, jc.Token)
	b, ok := f.downloads[jc.ID]
	if !ok {
		return gitlab.ErrNotFound
	}
	_, err := w.Write(b)
	return err
}

func (f *fakeArtifacts) UploadArtifacts(_ context.Context, jc gitlab.JobCredentials, opts gitlab.ArtifactsOptions, r io.Reader) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.failUploads) > 0 {
		err := f.failUploads[0]
		f.failUploads = f.failUploads[1:]
		_, _ = io.CopyN(io.Discard, r, 10) // a connection lost mid-body
		return err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	f.uploads = append(f.uploads, upload{opts, jc, b})
	return nil
}

// dirArtifacts is the subprocess's GitLab: uploads land as files the test reads.
type dirArtifacts struct{ dir string }

func (d *dirArtifacts) DownloadArtifacts(context.Context, gitlab.JobCredentials, io.Writer) error {
	return gitlab.ErrNotFound
}

func (d *dirArtifacts) UploadArtifacts(_ context.Context, _ gitlab.JobCredentials, opts gitlab.ArtifactsOptions, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d.dir, opts.Type+"-"+opts.Filename), b, 0o644)
}

// zipNames lists the entries of a zip archive, sorted.
func zipNames(t *testing.T, b []byte) []string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	return names
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := execCommand(name, args...)
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return out
}

func execCommand(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
