package pipeline

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/runner/runnertest"
)

const parentPipeline = `
stages: [build, deploy, after]
variables:
  GLOBAL: from-parent
build:
  stage: build
  script: make
bridge:
  stage: deploy
  variables:
    TARGET: staging
  trigger:
    include:
      - local: ci/child.yml
        inputs: {environment: staging}
    %s
after:
  stage: after
  script: echo done
`

const childPipeline = `
spec:
  inputs:
    environment:
---
child-deploy:
  script: ./deploy $[[ inputs.environment ]]
  rules:
    - if: $CI_PIPELINE_SOURCE == "parent_pipeline"
child-push-only:
  script: echo push
  rules:
    - if: $CI_PIPELINE_SOURCE == "push"
`

func runParent(t *testing.T, x *testExecutor, strategy string) (Result, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return runParentCtx(t, ctx, x, strategy)
}

func runParentCtx(t *testing.T, ctx context.Context, x *testExecutor, strategy string) (Result, string) {
	t.Helper()
	res, _, out := runRepo(t, ctx, x, Options{}, map[string]string{
		".gitlab-ci.yml": strings.Replace(parentPipeline, "%s", strategy, 1),
		"ci/child.yml":   childPipeline,
	})
	return res, out
}

// The child pipeline runs on the same coordinator and runner, its jobs prefixed by the
// bridge, with the trigger's inputs and variables and CI_PIPELINE_SOURCE parent_pipeline.
func TestChildPipelineRuns(t *testing.T) {
	x := newTestExecutor(t, nil)
	res, out := runParent(t, x, "strategy: depend")
	want := map[string]string{
		"(pipeline)": "success", "build": "success", "bridge": "success",
		"bridge/child-deploy": "success", "after": "success",
	}
	if d := cmp.Diff(want, describe(res)); d != "" {
		t.Errorf("jobs -want +got:\n%s\noutput:\n%s", d, out)
	}
	for _, line := range []string{"[bridge/child-deploy] running child-deploy", "==> bridge/child-deploy: success",
		"==> bridge: running (child pipeline started)"} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	jobs := x.jobs["child-deploy"]
	if len(jobs) != 1 {
		t.Fatalf("child-deploy ran %d times, want once", len(jobs))
	}
	job := jobs[0]
	if got := strings.Join(job.Steps[0].Script, "\n"); got != "./deploy staging" {
		t.Errorf("script = %q, want the input interpolated", got)
	}
	for k, v := range map[string]string{"CI_PIPELINE_SOURCE": "parent_pipeline", "TARGET": "staging", "GLOBAL": "from-parent"} {
		if got := job.Variables.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if len(x.jobs["bridge"]) != 0 {
		t.Error("the bridge job was sent to the runner")
	}
}

// With strategy: depend a failed child fails its bridge (and the jobs after it are
// skipped); without, the bridge succeeded when the child was created, and the child
// still runs to its end.
func TestChildPipelineFailure(t *testing.T) {
	for _, tc := range []struct {
		strategy string
		want     map[string]string
	}{
		{"strategy: depend", map[string]string{
			"(pipeline)": "failed", "build": "success", "bridge": "failed: downstream_pipeline_failed",
			"bridge/child-deploy": "failed: script_failure, exit code 4", "after": "skipped: earlier jobs failed",
		}},
		{"", map[string]string{
			"(pipeline)": "success", "build": "success", "bridge": "success",
			"bridge/child-deploy": "failed: script_failure, exit code 4", "after": "success",
		}},
	} {
		t.Run(strings.TrimPrefix(tc.strategy+"none", "strategy: "), func(t *testing.T) {
			x := newTestExecutor(t, map[string][]runnertest.Script{"child-deploy": {fails(4)}})
			res, out := runParent(t, x, tc.strategy)
			if d := cmp.Diff(tc.want, describe(res)); d != "" {
				t.Errorf("jobs -want +got:\n%s\noutput:\n%s", d, out)
			}
		})
	}
}

// Without strategy: depend, forward:yaml_variables false keeps the trigger's variables
// from the child.
func TestChildPipelineForward(t *testing.T) {
	x := newTestExecutor(t, nil)
	res, out := runParent(t, x, "forward: {yaml_variables: false}")
	if res.Status != StatusSuccess {
		t.Fatalf("pipeline %s:\n%s", res.Status, out)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	job := x.jobs["child-deploy"][0]
	if got := job.Variables.Get("TARGET"); got != "" {
		t.Errorf("TARGET = %q reached the child with yaml_variables: false", got)
	}
}

// Cancelling the pipeline cancels the child's jobs too, and a depend bridge with them.
func TestChildPipelineCancel(t *testing.T) {
	x := newTestExecutor(t, map[string][]runnertest.Script{"child-deploy": {{Loop: true}}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	x.actions["child-deploy"] = func(context.Context, *jobspec.Job) error {
		go func() {
			_ = x.fake.WaitFor(ctx, func(runs []runnertest.Run) bool { return len(runs) > 1 })
			cancel()
		}()
		return nil
	}
	res, out := runParentCtx(t, ctx, x, "strategy: depend")
	got := describe(res)
	if got["(pipeline)"] != "canceled" || got["bridge"] != "canceled" || got["bridge/child-deploy"] != "canceled" {
		t.Errorf("after a cancel: %v\noutput:\n%s", got, out)
	}
}

// strategy: mirror gives the bridge the child pipeline's status exactly, where depend
// knows only success, canceled and failed: a child blocked by a manual job leaves its
// bridge manual, and the jobs after it wait; a child of optional manual jobs only is
// skipped, and so is its bridge.
func TestChildPipelineMirror(t *testing.T) {
	for _, tc := range []struct {
		name, child string
		want        map[string]string
	}{
		{"blocked", "first:\n  script: echo\ngate:\n  script: echo\n  rules:\n    - when: manual\n", map[string]string{
			"(pipeline)": "success", "build": "success", "after": "skipped: waits for a manual job that was not played",
			"bridge": "manual", "bridge/first": "success", "bridge/gate": "manual: not played: name it with --job to run it",
		}},
		{"optional manual only", "optional:\n  script: echo\n  when: manual\n", map[string]string{
			"(pipeline)": "success", "build": "success", "after": "success",
			"bridge": "skipped", "bridge/optional": "manual: not played: name it with --job to run it",
		}},
		{"failed", "broken:\n  script: exit 1\n", map[string]string{
			"(pipeline)": "failed", "build": "success", "after": "skipped: earlier jobs failed",
			"bridge": "failed: downstream_pipeline_failed", "bridge/broken": "failed: script_failure, exit code 4",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newTestExecutor(t, map[string][]runnertest.Script{"broken": {fails(4)}})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			parent := strings.Replace(parentPipeline, "%s", "strategy: mirror", 1)
			parent = strings.Replace(parent, "      - local: ci/child.yml\n        inputs: {environment: staging}\n", "      - local: ci/child.yml\n", 1)
			res, _, out := runRepo(t, ctx, x, Options{}, map[string]string{".gitlab-ci.yml": parent, "ci/child.yml": tc.child})
			if d := cmp.Diff(tc.want, describe(res)); d != "" {
				t.Errorf("jobs -want +got:\n%s\noutput:\n%s", d, out)
			}
		})
	}
}
