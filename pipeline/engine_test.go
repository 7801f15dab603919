package pipeline

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/runner"
	"github.com/kuberunner/kuberunner/runner/runnertest"
)

// testExecutor plays a runnertest script per job name and, like a real pod, talks to the
// coordinator and the git server: it clones the repository, uploads and downloads artifacts.
type testExecutor struct {
	t       *testing.T
	fake    runnertest.Executor
	actions map[string]func(ctx context.Context, job *jobspec.Job) error

	mu   sync.Mutex
	jobs map[string][]*jobspec.Job // by name, every attempt
	errs []error
}

func newTestExecutor(t *testing.T, scripts map[string][]runnertest.Script) *testExecutor {
	x := &testExecutor{t: t, jobs: map[string][]*jobspec.Job{}, actions: map[string]func(context.Context, *jobspec.Job) error{}}
	x.fake.ScriptFor = func(job *jobspec.Job) runnertest.Script {
		x.mu.Lock()
		defer x.mu.Unlock()
		name := job.JobInfo.Name
		attempt := len(x.jobs[name]) - 1
		s := runnertest.Script{Chunks: []runnertest.Chunk{{Data: "running " + name + "\n"}}}
		if list := scripts[name]; attempt < len(list) {
			s = list[attempt]
		}
		return s
	}
	return x
}

func (x *testExecutor) Run(ctx context.Context, job *jobspec.Job, log io.Writer, graceful <-chan struct{}) jobspec.Result {
	name := job.JobInfo.Name
	x.mu.Lock()
	x.jobs[name] = append(x.jobs[name], job)
	action := x.actions[name]
	x.mu.Unlock()
	if action != nil {
		if err := action(ctx, job); err != nil {
			x.mu.Lock()
			x.errs = append(x.errs, fmt.Errorf("job %s: %w", name, err))
			x.mu.Unlock()
			return jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: err}
		}
	}
	return x.fake.Run(ctx, job, log, graceful)
}

func (x *testExecutor) factory(config.Runner) (runner.Executor, error) { return x, nil }

func creds(job *jobspec.Job, id int64, token string) gitlab.JobCredentials {
	return gitlab.JobCredentials{URL: job.Variables.Get("CI_SERVER_URL"), ID: id, Token: token}
}

// cloneAs fetches the job's commit the way the agent does: the token in a header.
func cloneAs(ctx context.Context, job *jobspec.Job, dir string) error {
	auth := base64.StdEncoding.EncodeToString([]byte("gitlab-ci-token:" + job.Token))
	cmd := exec.CommandContext(ctx, "git", "-c", "http.extraHeader=Authorization: Basic "+auth,
		"clone", "--quiet", job.GitInfo.RepoURL, dir)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("clone: %v: %s", err, out)
	}
	return nil
}

const demoPipeline = `
stages: [build, test, deploy]
build:
  stage: build
  script: make
  artifacts: {paths: [bin/]}
flaky:
  stage: build
  script: ./flaky
  retry: 1
lint:
  stage: test
  needs: [build]
  script: lint
  allow_failure: true
test:
  stage: test
  script: go test
notify:
  stage: deploy
  script: alert
  when: on_failure
deploy:
  stage: deploy
  needs: [test]
  script: ./deploy
  when: manual
report:
  stage: deploy
  script: report
  when: always
`

func fails(code int) runnertest.Script {
	return runnertest.Script{
		Chunks: []runnertest.Chunk{{Data: fmt.Sprintf("exiting with %d\n", code)}},
		Result: jobspec.Result{Reason: jobspec.ScriptFailure, ExitCode: code},
	}
}

func runDemo(t *testing.T, ctx context.Context, x *testExecutor, opts Options) (Result, string, string) {
	t.Helper()
	return runPipeline(t, ctx, x, opts, demoPipeline)
}

func describe(res Result) map[string]string {
	got := map[string]string{"(pipeline)": string(res.Status)}
	for _, j := range res.Jobs {
		got[j.Name] = j.Describe()
	}
	return got
}

func TestRunWholePipeline(t *testing.T) {
	x := newTestExecutor(t, map[string][]runnertest.Script{
		"flaky": {fails(1)},
		"lint":  {fails(3)},
	})
	x.actions["build"] = func(ctx context.Context, job *jobspec.Job) error {
		clone := filepath.Join(t.TempDir(), "src")
		if err := cloneAs(ctx, job, clone); err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(clone, ".gitlab-ci.yml")); err != nil {
			return fmt.Errorf("the clone lacks the committed file: %w", err)
		}
		client, err := gitlab.New(gitlab.Options{})
		if err != nil {
			return err
		}
		return client.UploadArtifacts(ctx, creds(job, job.ID, job.Token),
			gitlab.ArtifactsOptions{Filename: "artifacts.zip", Format: "zip", Type: "archive"},
			strings.NewReader("the build's archive"))
	}
	x.actions["test"] = func(ctx context.Context, job *jobspec.Job) error {
		var names []string
		for _, d := range job.Dependencies {
			names = append(names, d.Name)
		}
		if d := cmp.Diff([]string{"build", "flaky"}, names); d != "" {
			return fmt.Errorf("dependencies -want +got:\n%s", d)
		}
		dep := job.Dependencies[0]
		if dep.ArtifactsFile == nil || dep.ArtifactsFile.Filename != "artifacts.zip" {
			return fmt.Errorf("build's artifacts_file = %+v, want artifacts.zip", dep.ArtifactsFile)
		}
		client, err := gitlab.New(gitlab.Options{})
		if err != nil {
			return err
		}
		var got bytes.Buffer
		if err := client.DownloadArtifacts(ctx, creds(job, dep.ID, dep.Token), &got); err != nil {
			return err
		}
		if got.String() != "the build's archive" {
			return fmt.Errorf("downloaded %q", got.String())
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, dir, out := runDemo(t, ctx, x, Options{})

	want := map[string]string{
		"(pipeline)": "success",
		"build":      "success",
		"flaky":      "success after 2 attempts",
		"lint":       "failed (allowed)",
		"test":       "success",
		"notify":     "skipped: when: on_failure, and nothing before it failed",
		"deploy":     "manual: not played: name it with --job to run it",
		"report":     "success",
	}
	if d := cmp.Diff(want, describe(res)); d != "" {
		t.Errorf("jobs -want +got:\n%s\noutput:\n%s", d, out)
	}
	if !res.Passed() {
		t.Error("Passed() = false, want true")
	}
	kept := filepath.Join(dir, StateDir, "pipelines", "1", "jobs", "build", "artifacts.zip")
	if got := readFile(t, kept); got != "the build's archive" {
		t.Errorf("%s holds %q, want the build's archive", kept, got)
	}
	if want := "==> build: artifacts stored at " + displayPath(kept) + "\n"; !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	for _, line := range []string{"[lint] exiting with 3", "==> flaky: failed (script_failure, exit code 1, retrying)",
		"==> deploy: manual (not played: name it with --job to run it)", "Pipeline #1 success in"} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
}

func TestRunFailedPipelinePlaysManualJobs(t *testing.T) {
	x := newTestExecutor(t, map[string][]runnertest.Script{"test": {fails(2)}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, _, out := runDemo(t, ctx, x, Options{Jobs: []string{"deploy"}, Follow: []string{"test"}})
	want := map[string]string{
		"(pipeline)": "failed",
		"build":      "success",
		"flaky":      "success",
		"lint":       "success",
		"test":       "failed: script_failure, exit code 2",
		"notify":     "success",
		"deploy":     "skipped: earlier jobs failed",
		"report":     "success",
	}
	if d := cmp.Diff(want, describe(res)); d != "" {
		t.Errorf("jobs -want +got:\n%s\noutput:\n%s", d, out)
	}
	if res.Passed() {
		t.Error("Passed() = true for a failed pipeline")
	}
	if strings.Contains(out, "[build]") || !strings.Contains(out, "[test] exiting with 2") {
		t.Errorf("with Follow: test, only test's log should show:\n%s", out)
	}
}

func TestRunCancelsGracefully(t *testing.T) {
	started := make(chan struct{})
	x := newTestExecutor(t, map[string][]runnertest.Script{
		"build": {{Loop: true}},
	})
	x.actions["build"] = func(context.Context, *jobspec.Job) error { close(started); return nil }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-started:
			// Cancel once the runner has the job running.
			_ = x.fake.WaitFor(ctx, func(runs []runnertest.Run) bool { return len(runs) > 0 })
			cancel()
		case <-time.After(time.Minute):
			cancel()
		}
	}()
	res, _, out := runDemo(t, ctx, x, Options{})
	got := describe(res)
	if got["(pipeline)"] != "canceled" || got["build"] != "canceled" || !strings.HasPrefix(got["test"], "canceled") {
		t.Errorf("after a cancel: %v\noutput:\n%s", got, out)
	}
	runs := x.fake.Runs()
	var graceful bool
	for _, r := range runs {
		graceful = graceful || !r.Graceful.IsZero()
	}
	if !graceful {
		t.Errorf("no run saw a graceful cancel: %+v", runs)
	}
}
