package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v3"

	"github.com/kuberunner/kuberunner/config"
)

// newRepo is a git repository whose one commit, with message msg, holds .gitlab-ci.yml.
func newRepo(t *testing.T, ciYAML, msg string) string {
	t.Helper()
	return newRepoOf(t, map[string][]byte{".gitlab-ci.yml": []byte(ciYAML)}, msg)
}

// newRepoOf commits files (path -> content) to a new repository on branch main.
func newRepoOf(t *testing.T, files map[string][]byte, msg string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "--quiet", "--initial-branch=main"}, {"add", "-A"}, {"commit", "--quiet", "-m", msg}} {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir(),
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

func TestRepeatableFlagsKeepCommas(t *testing.T) {
	var walk func(cmd *cli.Command)
	walk = func(cmd *cli.Command) {
		if !cmd.DisableSliceFlagSeparator {
			t.Errorf("command %q splits repeatable flags on commas", cmd.FullName())
		}
		for _, sub := range cmd.Commands {
			walk(sub)
		}
	}
	walk(newApp(nil, nil))

	dir := newRepo(t, `
job:
  script: echo
  rules:
    - if: $LIST == "a,b"
`, "first")
	out, errOut, code := runCLI(t, "pipeline", "lint", "--dir", dir, "--var", "LIST=a,b")
	if code != 0 || !strings.Contains(out, "is valid: 1 jobs") {
		t.Errorf("lint --var LIST=a,b: exit %d, out %q, err %q; want the job kept by its rule", code, out, errOut)
	}
}

func TestSplitTags(t *testing.T) {
	got := splitTags([]string{"k8s, linux", "", "gpu,,"})
	if strings.Join(got, "|") != "k8s|linux|gpu" {
		t.Errorf("splitTags = %q, want k8s, linux, gpu", got)
	}
}

// run and lint agree on a commit GitLab creates no pipeline for: they say why and exit 0.
func TestNoPipelineExitsZero(t *testing.T) {
	tests := []struct{ name, yaml, msg, want string }{
		{"ci skip", "build:\n  script: make\n", "Deploy v2\n\n[CI Skip]", "no pipeline: commit message contains [ci skip]"},
		{"workflow", "workflow:\n  rules:\n    - if: $CI_COMMIT_TAG\nbuild:\n  script: make\n", "first", "no pipeline: workflow:rules matched nothing"},
	}
	for _, tc := range tests {
		dir := newRepo(t, tc.yaml, tc.msg)
		for _, cmd := range []string{"run", "lint", "show"} {
			out, errOut, code := runCLI(t, "pipeline", cmd, "--dir", dir)
			if code != 0 || !strings.Contains(out, tc.want+"\n") {
				t.Errorf("%s: pipeline %s: exit %d, out %q, err %q; want exit 0 saying %q", tc.name, cmd, code, out, errOut, tc.want)
			}
		}
	}
}

// A loopback --listen with a cluster off loopback is refused before any job runs, with a
// sentence naming --listen, not a git connection error from the first job; without
// --listen the coordinator listens on the address on the route to the cluster.
func TestPipelineRunRefusesLoopbackListenForRemoteCluster(t *testing.T) {
	// 192.0.2.1 (TEST-NET-1) is never on loopback; nothing connects to it.
	kubeconfig := writeKubeconfig(t, "https://192.0.2.1:6443")
	if got := apiServerURL(config.Kubernetes{Kubeconfig: kubeconfig}); got != "https://192.0.2.1:6443" {
		t.Fatalf("apiServerURL = %q", got)
	}
	if !hasRoute() {
		t.Skip("no route off this machine: it cannot tell the address pods would need")
	}
	dir := newRepo(t, "build:\n  script: make\n", "first")
	_, errOut, code := runCLI(t, "pipeline", "run", "--dir", dir, "--kubeconfig", kubeconfig, "--listen", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errOut, "--listen 127.0.0.1:") || !strings.Contains(errOut, "the job pods cannot reach") {
		t.Errorf("exit %d, error %q; want exit 1 naming --listen", code, errOut)
	}
	c, err := net.Dial("udp", "192.0.2.1:6443")
	if err != nil {
		t.Fatal(err)
	}
	route := c.LocalAddr().(*net.UDPAddr).IP.String()
	c.Close()
	out, _, _ := runCLI(t, "pipeline", "run", "--dir", dir, "--kubeconfig", kubeconfig)
	if !strings.Contains(out, "served at http://"+route+":") {
		t.Errorf("without --listen, want the coordinator on %s:\n%s", route, out)
	}
}

func hasRoute() bool {
	c, err := net.Dial("udp", "192.0.2.1:6443")
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// lint says of a dynamic child pipeline what it can know: which job generates it.
func TestLintGeneratedChild(t *testing.T) {
	dir := newRepo(t, `
generate:
  stage: build
  script: ./gen > child.yml
  artifacts: {paths: [child.yml]}
bridge:
  stage: test
  trigger:
    include: [{artifact: child.yml, job: generate}]
`, "first")
	out, errOut, code := runCLI(t, "pipeline", "lint", "--dir", dir)
	want := ".gitlab-ci.yml is valid: 2 jobs, bridge triggers a child pipeline generated at run time by job generate\n"
	if code != 0 || out != want {
		t.Errorf("lint: exit %d, out %q, err %q; want %q", code, out, errOut, want)
	}
	out, _, code = runCLI(t, "pipeline", "show", "--dir", dir)
	if code != 0 || !strings.Contains(out, "child_pipeline: generated at run time by job generate (its artifact child.yml)\n") {
		t.Errorf("show: exit %d, out:\n%s", code, out)
	}
}

// writeKubeconfig writes a kubeconfig whose cluster's API server is server.
func writeKubeconfig(t *testing.T, server string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	err := os.WriteFile(path, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "`+server+`"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// pipelineRunnerOf is the runner entry pipeline run makes of args.
func pipelineRunnerOf(t *testing.T, args ...string) config.Runner {
	t.Helper()
	cmd := pipelineRunCommand()
	var rc config.Runner
	cmd.Action = func(_ context.Context, c *cli.Command) (err error) {
		rc, _, err = pipelineRunner(c)
		return err
	}
	if err := cmd.Run(context.Background(), append([]string{"run"}, args...)); err != nil {
		t.Fatal(err)
	}
	return rc
}

// With no flags, the cluster is kubectl's: $KUBECONFIG may list several files, merged
// as kubectl merges them (a missing one is skipped); the helper image is this version's.
// (~/.kube/config is client-go's to find: it reads $HOME once, when the process starts.)
func TestPipelineRunDefaults(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERUNNER_HELPER_IMAGE", "")
	listed := writeKubeconfig(t, "https://192.0.2.1:6443")
	t.Setenv("KUBECONFIG", filepath.Join(home, "missing")+string(os.PathListSeparator)+listed)

	rc := pipelineRunnerOf(t)
	if rc.Kubernetes.Kubeconfig != "" {
		t.Errorf("kubeconfig = %q, want empty for client-go's loading rules", rc.Kubernetes.Kubeconfig)
	}
	if got := apiServerURL(rc.Kubernetes); got != "https://192.0.2.1:6443" {
		t.Errorf("API server from $KUBECONFIG's list = %q, want https://192.0.2.1:6443", got)
	}
	if want := config.HelperImageFor(version); rc.Kubernetes.HelperImage != want {
		t.Errorf("helper image = %q, want this version's %q", rc.Kubernetes.HelperImage, want)
	}

	rc = pipelineRunnerOf(t, "--kubeconfig", listed, "--helper-image", "example.com/kr:1")
	if rc.Kubernetes.Kubeconfig != listed || rc.Kubernetes.HelperImage != "example.com/kr:1" {
		t.Errorf("flags not taken: kubeconfig %q, helper image %q", rc.Kubernetes.Kubeconfig, rc.Kubernetes.HelperImage)
	}
}

// With the API server on loopback (kind, a port-forward) and no --listen, no address is
// known to reach the pods: run refuses before any job runs and asks for --listen.
func TestPipelineRunRefusesToGuessListenForLoopbackCluster(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBECONFIG", writeKubeconfig(t, "https://127.0.0.1:6443"))
	dir := newRepo(t, "build:\n  script: make\n", "first")
	_, errOut, code := runCLI(t, "pipeline", "run", "--dir", dir)
	if code != 1 || !strings.Contains(errOut, "the cluster's API server is on loopback (https://127.0.0.1:6443)") ||
		!strings.Contains(errOut, "give --listen ADDRESS:0") {
		t.Errorf("exit %d, error %q; want exit 1 asking for --listen", code, errOut)
	}
}
