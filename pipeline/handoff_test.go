package pipeline

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/jobspec"
)

// runPipeline runs the pipeline ciYAML, committed to a new repository, with x.
func runPipeline(t *testing.T, ctx context.Context, x *testExecutor, opts Options, ciYAML string) (Result, string, string) {
	t.Helper()
	return runRepo(t, ctx, x, opts, map[string]string{".gitlab-ci.yml": ciYAML})
}

// runRepo runs the pipeline of a repository holding files (path -> content).
// commitRepo is a test repository with files committed on top.
func commitRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := newTestRepo(t)
	for name, content := range files {
		writeFile(t, dir, name, content)
	}
	gitRun(t, dir, "add", "-A")
	gitRun(t, dir, "commit", "--quiet", "-m", "add the pipeline")
	return dir
}

func runRepo(t *testing.T, ctx context.Context, x *testExecutor, opts Options, files map[string]string) (Result, string, string) {
	t.Helper()
	dir := commitRepo(t, files)
	var out bytes.Buffer
	opts.Dir, opts.Out, opts.Executor = dir, &out, x.factory
	opts.TraceInterval, opts.KeepAlive, opts.CancelGrace = 20*time.Millisecond, 50*time.Millisecond, time.Minute
	res, err := Run(ctx, opts)
	if err != nil {
		t.Fatalf("Run: %v\noutput:\n%s", err, out.String())
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, err := range x.errs {
		t.Error(err)
	}
	return res, dir, out.String()
}

const dotenvPipeline = `
stages: [build, deploy]
variables:
  VERSION: from-the-file
build:
  stage: build
  script: echo VERSION=1.2.3 > build.env
  artifacts:
    reports: {dotenv: build.env}
deploy:
  stage: deploy
  needs: [build]
  script: ./deploy $VERSION
by-stage:
  stage: deploy
  script: echo $VERSION
no-artifacts:
  stage: deploy
  needs: [{job: build, artifacts: false}]
  script: echo $VERSION
no-dependencies:
  stage: deploy
  dependencies: []
  script: echo $VERSION
`

// uploadDotenv makes a job's action upload a dotenv report, as the runner does.
func uploadDotenv(t *testing.T, content string) func(context.Context, *jobspec.Job) error {
	return func(ctx context.Context, job *jobspec.Job) error {
		client, err := gitlab.New(gitlab.Options{})
		if err != nil {
			return err
		}
		return client.UploadArtifacts(ctx, creds(job, job.ID, job.Token),
			gitlab.ArtifactsOptions{Filename: ".env.gz", Format: "gzip", Type: "dotenv"},
			bytes.NewReader(gzipMembers(t, content)))
	}
}

func TestRunHandsDotenvVariablesOn(t *testing.T) {
	x := newTestExecutor(t, nil)
	x.actions["build"] = uploadDotenv(t, "VERSION=1.2.3\nIMAGE=registry/app:$VERSION\n")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, dir, out := runPipeline(t, ctx, x, Options{Vars: []string{"IMAGE=from --var"}}, dotenvPipeline)
	if !res.Passed() {
		t.Fatalf("pipeline %s:\n%s", res.Status, out)
	}
	got := map[string]string{}
	x.mu.Lock()
	for name, jobs := range x.jobs {
		vars := jobs[0].Variables
		got[name] = vars.Get("VERSION") + " " + vars.Get("IMAGE")
		if name == "deploy" {
			for _, v := range vars {
				if v.Key == "VERSION" && v.Value == "1.2.3" && (v.Public || v.Raw) {
					t.Errorf("deploy's VERSION = %+v, want it not public and expanded, as GitLab's", v)
				}
			}
		}
	}
	x.mu.Unlock()
	// The report wins over the file's variables; --var wins over the report.
	want := map[string]string{
		"build":           "from-the-file from --var",
		"deploy":          "1.2.3 from --var",
		"by-stage":        "1.2.3 from --var",
		"no-artifacts":    "from-the-file from --var",
		"no-dependencies": "from-the-file from --var",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("VERSION IMAGE by job -want +got:\n%s", d)
	}
	kept := filepath.Join(dir, StateDir, "pipelines", "1", "jobs", "build", "dotenv.gz")
	if !strings.Contains(out, "==> build: artifacts stored at "+displayPath(kept)) {
		t.Errorf("output does not say where the report is:\n%s", out)
	}
}

// A report GitLab refuses fails its job, as the refused upload does on GitLab, and names
// the line; the next stage does not run.
func TestRunRejectsInvalidDotenv(t *testing.T) {
	x := newTestExecutor(t, nil)
	x.actions["build"] = uploadDotenv(t, "VERSION=1.2.3\nexport TOKEN=s3cr3t\n")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, _, out := runPipeline(t, ctx, x, Options{}, dotenvPipeline)
	got := describe(res)
	if got["build"] != "failed: script_failure" || got["deploy"] != "skipped: earlier jobs failed" {
		t.Errorf("jobs: %v\noutput:\n%s", got, out)
	}
	want := `==> build: rejected dotenv report: line 2: key "export TOKEN"`
	if !strings.Contains(out, want) || strings.Contains(out, "s3cr3t") {
		t.Errorf("output lacks %q or shows the value:\n%s", want, out)
	}
	if res.Status != StatusFailed {
		t.Errorf("pipeline %s, want failed", res.Status)
	}
}
