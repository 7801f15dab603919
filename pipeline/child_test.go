package pipeline

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/runner/runnertest"
)

const needsParentPipeline = `
stages: [build, deploy]
build:
  stage: build
  script: make
  artifacts: {paths: [app.bin]}
%s
bridge:
  stage: deploy
  variables:
    PARENT_PIPELINE_ID: $CI_PIPELINE_ID
  trigger:
    include: ci/child.yml
    strategy: depend
`

const needsParentChild = `
deploy:
  script: ./deploy app.bin
  needs:
    - pipeline: $PARENT_PIPELINE_ID
      job: build
`

// uploadArchive makes a job's action upload an artifacts archive holding files.
func uploadArchive(t *testing.T, files map[string]string) func(context.Context, *jobspec.Job) error {
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for name, content := range files {
		w, err := z.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return func(ctx context.Context, job *jobspec.Job) error {
		client, err := gitlab.New(gitlab.Options{})
		if err != nil {
			return err
		}
		return client.UploadArtifacts(ctx, creds(job, job.ID, job.Token),
			gitlab.ArtifactsOptions{Filename: "artifacts.zip", Format: "zip", Type: "archive"},
			bytes.NewReader(b.Bytes()))
	}
}

// fetchPipelineRef fetches the job's pipeline ref as the step agent does, into a clone.
func fetchPipelineRef(ctx context.Context, job *jobspec.Job, dir string) error {
	if err := cloneAs(ctx, job, dir); err != nil {
		return err
	}
	auth := base64.StdEncoding.EncodeToString([]byte("gitlab-ci-token:" + job.Token))
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "-c", "http.extraHeader=Authorization: Basic "+auth,
		"fetch", "--quiet", "origin", job.GitInfo.Refspecs[0])
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("fetch %s: %v: %s", job.GitInfo.Refspecs[0], err, out)
	}
	return nil
}

func runChildRepo(t *testing.T, x *testExecutor, opts Options, files map[string]string) (Result, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, _, out := runRepo(t, ctx, x, opts, files)
	return res, out
}

// A child job that needs a parent job (needs:pipeline:job) downloads that job's
// artifacts; the child pipeline has its own ID and pipeline ref, and PARENT_PIPELINE_ID
// is the parent's.
func TestChildNeedsParentArtifacts(t *testing.T) {
	x := newTestExecutor(t, nil)
	x.actions["build"] = uploadArchive(t, map[string]string{"app.bin": "the app"})
	x.actions["deploy"] = func(ctx context.Context, job *jobspec.Job) error {
		if len(job.Dependencies) != 1 || job.Dependencies[0].Name != "build" {
			return fmt.Errorf("dependencies = %+v, want the parent's build", job.Dependencies)
		}
		client, err := gitlab.New(gitlab.Options{})
		if err != nil {
			return err
		}
		dep := job.Dependencies[0]
		var got bytes.Buffer
		if err := client.DownloadArtifacts(ctx, creds(job, dep.ID, dep.Token), &got); err != nil {
			return err
		}
		return fetchPipelineRef(ctx, job, t.TempDir())
	}
	res, out := runChildRepo(t, x, Options{}, map[string]string{
		".gitlab-ci.yml": strings.Replace(needsParentPipeline, "%s", "", 1),
		"ci/child.yml":   needsParentChild,
	})
	want := map[string]string{"(pipeline)": "success", "build": "success", "bridge": "success", "bridge/deploy": "success"}
	if d := cmp.Diff(want, describe(res)); d != "" {
		t.Fatalf("jobs -want +got:\n%s\noutput:\n%s", d, out)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	parent, child := x.jobs["build"][0], x.jobs["deploy"][0]
	if got, want := child.Variables.Get("PARENT_PIPELINE_ID"), parent.Variables.Get("CI_PIPELINE_ID"); got != want {
		t.Errorf("PARENT_PIPELINE_ID = %q, want the parent's CI_PIPELINE_ID %q", got, want)
	}
	if p, c := parent.Variables.Get("CI_PIPELINE_ID"), child.Variables.Get("CI_PIPELINE_ID"); p == c || c != "2" {
		t.Errorf("CI_PIPELINE_ID: parent %s, child %s; want the child's own, 2", p, c)
	}
	if got := child.JobInfo.PipelineID; got != 2 {
		t.Errorf("the child job's pipeline ID = %d, want 2", got)
	}
}

// A child job whose parent job failed, or that does not name the parent's pipeline,
// cannot start: missing_dependency_failure, as on GitLab.
func TestChildNeedsParentMissing(t *testing.T) {
	for _, tc := range []struct {
		name, parent, child, note string
	}{
		{"failed", "  allow_failure: true\n", needsParentChild, "job build of the parent pipeline did not succeed (failed)"},
		{"other pipeline", "", strings.Replace(needsParentChild, "$PARENT_PIPELINE_ID", "42", 1), `needs:pipeline "42" is "42", not the parent pipeline #1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var scripts map[string][]runnertest.Script
			if tc.parent != "" {
				scripts = map[string][]runnertest.Script{"build": {fails(2)}}
			}
			x := newTestExecutor(t, scripts)
			parent := strings.Replace(needsParentPipeline, "artifacts: {paths: [app.bin]}\n%s", "artifacts: {paths: [app.bin]}\n"+tc.parent, 1)
			res, out := runChildRepo(t, x, Options{}, map[string]string{".gitlab-ci.yml": parent, "ci/child.yml": tc.child})
			if got := describe(res)["bridge/deploy"]; got != "failed: missing_dependency_failure" {
				t.Errorf("bridge/deploy: %s, want failed: missing_dependency_failure\noutput:\n%s", got, out)
			}
			if !strings.Contains(out, tc.note) {
				t.Errorf("output lacks %q:\n%s", tc.note, out)
			}
			if len(x.jobs["deploy"]) != 0 {
				t.Error("the job was sent to the runner")
			}
		})
	}
}

// --job bridge/job plays a manual job of a child pipeline; a child job that does not
// exist is refused before anything runs.
func TestPlayChildJob(t *testing.T) {
	files := map[string]string{
		".gitlab-ci.yml": "bridge:\n  trigger:\n    include: ci/child.yml\n    strategy: depend\n",
		"ci/child.yml":   "auto:\n  script: echo\nrelease:\n  script: ./release\n  when: manual\n",
	}
	x := newTestExecutor(t, nil)
	res, out := runChildRepo(t, x, Options{Jobs: []string{"bridge/release"}}, files)
	want := map[string]string{"(pipeline)": "success", "bridge": "success", "bridge/auto": "success", "bridge/release": "success"}
	if d := cmp.Diff(want, describe(res)); d != "" {
		t.Errorf("jobs -want +got:\n%s\noutput:\n%s", d, out)
	}

	_, err := Run(context.Background(), Options{Dir: commitRepo(t, files), Jobs: []string{"bridge/relase"}, Executor: x.factory, Out: &bytes.Buffer{}})
	if err == nil || err.Error() != "child pipeline of bridge: no job relase in this pipeline" {
		t.Errorf("Run with --job bridge/relase: %v", err)
	}
}

const generatedPipeline = `
stages: [build, test]
generate:
  stage: build
  script: ./gen > child.yml
  artifacts: {paths: [child.yml]}
bridge:
  stage: test
  trigger:
    include:
      - artifact: child.yml
        job: generate
    strategy: depend
`

// A dynamic child pipeline is read from its generator's artifacts when the bridge runs;
// a file that is missing or invalid fails the bridge with a message naming artifact and
// job.
func TestGeneratedChild(t *testing.T) {
	for _, tc := range []struct {
		name   string
		upload map[string]string
		want   map[string]string
		note   string
	}{
		{"valid", map[string]string{"child.yml": "generated:\n  script: echo $CI_PIPELINE_SOURCE\n"},
			map[string]string{"(pipeline)": "success", "generate": "success", "bridge": "success", "bridge/generated": "success"}, ""},
		{"invalid", map[string]string{"child.yml": "generated:\n  scrpt: echo\n"},
			map[string]string{"(pipeline)": "failed", "generate": "success", "bridge": "failed: downstream_pipeline_creation_failed"},
			"the child pipeline generated by job generate (its artifact child.yml) is invalid:\n"},
		{"invalid keyword", map[string]string{"child.yml": "generated:\n  script: echo\n  scrpt: echo\n"},
			map[string]string{"(pipeline)": "failed", "generate": "success", "bridge": "failed: downstream_pipeline_creation_failed"},
			`child.yml:3: job generated: unknown keyword "scrpt"`},
		{"missing", map[string]string{"other.yml": "x"},
			map[string]string{"(pipeline)": "failed", "generate": "success", "bridge": "failed: downstream_pipeline_creation_failed"},
			"job generate's artifacts: child.yml is not among them"},
		{"no artifacts", nil,
			map[string]string{"(pipeline)": "failed", "generate": "success", "bridge": "failed: downstream_pipeline_creation_failed"},
			"job generate, which generates the child pipeline, uploaded no artifacts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newTestExecutor(t, nil)
			if tc.upload != nil {
				x.actions["generate"] = uploadArchive(t, tc.upload)
			}
			res, out := runChildRepo(t, x, Options{}, map[string]string{".gitlab-ci.yml": generatedPipeline})
			if d := cmp.Diff(tc.want, describe(res)); d != "" {
				t.Errorf("jobs -want +got:\n%s\noutput:\n%s", d, out)
			}
			if !strings.Contains(out, tc.note) {
				t.Errorf("output lacks %q:\n%s", tc.note, out)
			}
		})
	}
}
