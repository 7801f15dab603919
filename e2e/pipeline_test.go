//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/e2e/e2eutil"
	"github.com/kuberunner/kuberunner/executor"
	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/pipeline"
	"github.com/kuberunner/kuberunner/runner"
)

// TestPipelineStatesAsGitLab runs testdata/pipeline/gitlab-ci.yml twice on the cluster through
// `pipeline.Run` (the engine of `kuberunner pipeline run`) and checks that every job ends in the
// state GitLab would give it.
func TestPipelineStatesAsGitLab(t *testing.T) {
	type state struct {
		Status  pipeline.Status
		Allowed bool
	}
	const (
		success = pipeline.StatusSuccess
		failed  = pipeline.StatusFailed
		skipped = pipeline.StatusSkipped
	)
	tests := []struct {
		name   string
		vars   []string
		passed bool
		want   map[string]state
	}{
		{
			name:   "passing",
			passed: true,
			want: map[string]state{
				"build":         {Status: success},
				"unit: [small]": {Status: success},
				"unit: [large]": {Status: success},
				"lint":          {Status: failed, Allowed: true},
				"deploy":        {Status: success},
				"report":        {Status: skipped}, // on_failure, and nothing failed that was not allowed to
			},
		},
		{
			// The tests fail: deploy still runs, because it needs only build (the DAG skips the
			// test stage), and the on_failure job runs.
			name:   "failing tests",
			vars:   []string{"BREAK=yes"},
			passed: false,
			want: map[string]state{
				"build":         {Status: success},
				"unit: [small]": {Status: failed},
				"unit: [large]": {Status: failed},
				"lint":          {Status: failed, Allowed: true},
				"deploy":        {Status: success},
				"report":        {Status: success},
			},
		},
	}
	images, err := e2eutil.LoadImages()
	if err != nil {
		t.Fatal(err)
	}
	repo := pipelineRepo(t)
	client := e2eutil.Client(t)
	ns := e2eutil.Namespace(t, client)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			var out bytes.Buffer
			res, err := pipeline.Run(ctx, pipeline.Options{
				Dir:    repo,
				Vars:   append([]string{"BUSYBOX=" + images.Busybox}, tc.vars...),
				Listen: net.JoinHostPort(nodeIP(), "0"),
				Runner: config.Runner{Kubernetes: config.Kubernetes{
					Kubeconfig: e2eutil.Kubeconfig(), Namespace: ns, HelperImage: images.Kuberunner,
				}},
				Executor: func(rc config.Runner) (runner.Executor, error) {
					return executor.NewKubernetes(rc, executor.Options{})
				},
				Out:           &out,
				TraceInterval: 200 * time.Millisecond,
			})
			t.Logf("pipeline output:\n%s", out.String())
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]state{}
			for _, j := range res.Jobs {
				got[j.Name] = state{Status: j.Status, Allowed: j.AllowedFailure}
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("job states -want +got:\n%s", d)
			}
			if res.Passed() != tc.passed {
				t.Errorf("pipeline passed = %v, want %v", res.Passed(), tc.passed)
			}
			for _, j := range res.Jobs {
				if j.Name == "release" {
					t.Errorf("release ran or was listed on a branch pipeline: rules keep it for tags")
				}
			}
			pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			secrets, err := client.CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{LabelSelector: jobpod.LabelJobID})
			if err != nil {
				t.Fatal(err)
			}
			if len(pods.Items) != 0 || len(secrets.Items) != 0 {
				t.Errorf("left behind: %d pods, %d job secrets", len(pods.Items), len(secrets.Items))
			}
		})
	}
}

// pipelineRepo is a git repository on branch main holding the acceptance pipeline.
func pipelineRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join("testdata", "pipeline", "gitlab-ci.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".gitlab-ci.yml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", ".gitlab-ci.yml"},
		{"-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid", "commit", "-q", "-m", "pipeline"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}
