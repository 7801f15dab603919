package pipeline

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/kuberunner/kuberunner/pipeline/compiler"
)

func TestSkipped(t *testing.T) {
	tests := []struct{ msg, want string }{
		{"Fix the build [ci skip]", "no pipeline: commit message contains [ci skip]"},
		{"[SKIP CI] bump", "no pipeline: commit message contains [skip ci]"},
		{"Update image\n\nDeployed by argocd [Skip-CI]", "no pipeline: commit message contains [skip-ci]"},
		{"chore: [ci_skip]", "no pipeline: commit message contains [ci_skip]"},
		{"ci skip without brackets", ""},
		{"[ci  skip] two spaces", ""},
		{"[skip] ci", ""},
	}
	for _, tc := range tests {
		err := skipped(tc.msg)
		got := ""
		if err != nil {
			got = err.Error()
			if _, ok := errors.AsType[*NoPipelineError](err); !ok {
				t.Errorf("skipped(%q) is %T, want *NoPipelineError", tc.msg, err)
			}
		}
		if got != tc.want {
			t.Errorf("skipped(%q) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}

func TestCreated(t *testing.T) {
	job := &compiler.Job{Name: "build"}
	tests := []struct {
		p    compiler.Pipeline
		want string
	}{
		{compiler.Pipeline{Jobs: []*compiler.Job{job}}, ""},
		{compiler.Pipeline{Jobs: []*compiler.Job{}, Filtered: "workflow:rules: no rule matched"}, "no pipeline: workflow:rules matched nothing"},
		{compiler.Pipeline{Jobs: []*compiler.Job{}, Filtered: `workflow:rules[0]: if $X says never`}, `no pipeline: workflow:rules[0]: if $X says never`},
		{compiler.Pipeline{Jobs: []*compiler.Job{}}, "no pipeline: rules, only and except left no job in it"},
	}
	for _, tc := range tests {
		got := ""
		if err := created(&tc.p); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("created(%+v) = %q, want %q", tc.p, got, tc.want)
		}
	}
}

// A skipped commit or a filtered pipeline is reported before any job, directory or server
// exists, and the same way by Run and Compile.
func TestRunAndCompileAgreeOnNoPipeline(t *testing.T) {
	tests := []struct{ name, yaml, msg, want string }{
		{"ci skip", "build:\n  script: make\n", "Bump to 1.2 [ci skip]", "no pipeline: commit message contains [ci skip]"},
		{"workflow", "workflow:\n  rules:\n    - if: $CI_COMMIT_TAG\nbuild:\n  script: make\n", "tag me", "no pipeline: workflow:rules matched nothing"},
		{"no job", "build:\n  script: make\n  rules:\n    - if: $CI_COMMIT_TAG\n", "tag me", "no pipeline: rules, only and except left no job in it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := newTestRepo(t)
			writeFile(t, dir, ".gitlab-ci.yml", tc.yaml)
			gitRun(t, dir, "add", "-A")
			gitRun(t, dir, "commit", "--quiet", "-m", tc.msg)
			x := newTestExecutor(t, nil)
			_, err := Run(t.Context(), Options{Dir: dir, Out: io.Discard, Executor: x.factory})
			if _, ok := errors.AsType[*NoPipelineError](err); !ok || err.Error() != tc.want {
				t.Errorf("Run error = %v, want *NoPipelineError %q", err, tc.want)
			}
			p, err := Compile(dir, "", nil, nil)
			if _, ok := errors.AsType[*NoPipelineError](err); !ok || err.Error() != tc.want || p == nil {
				t.Errorf("Compile = %v, %v; want the pipeline and *NoPipelineError %q", p, err, tc.want)
			}
			if entries, _ := os.ReadDir(filepath.Join(dir, StateDir, "pipelines")); len(entries) != 0 {
				t.Errorf("a pipeline directory was left behind: %v", entries)
			}
			if len(x.jobs) != 0 {
				t.Errorf("jobs ran: %v", x.jobs)
			}
		})
	}
}
