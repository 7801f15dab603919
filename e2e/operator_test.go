//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/e2e/e2eutil"
	"github.com/kuberunner/kuberunner/executor"
)

// repoRoot is the repository this test file is in.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..")
}

// TestHelmInstallRunsJobs installs charts/kuberunner with the real helm, as an operator
// would (token in values, the image built from the Dockerfile, jobs in the release's
// namespace with the chart's Role only), runs jobs through it and uninstalls it.
func TestHelmInstallRunsJobs(t *testing.T) {
	helm := os.Getenv("HELM")
	if helm == "" {
		helm = filepath.Join(repoRoot(), "bin", "helm")
	}
	if _, err := os.Stat(helm); err != nil {
		t.Fatalf("no helm at %s (make tools builds it): %v", helm, err)
	}
	s := newStackNoRunner(t, nil, nil)
	repo, tag := splitImage(s.images.Kuberunner)
	home := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(helm, append(args, "--kubeconfig", e2eutil.Kubeconfig(), "--namespace", s.ns)...)
		cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config", "HELM_DATA_HOME="+home+"/data")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("install", "kr", filepath.Join(repoRoot(), "charts", "kuberunner"), "--wait", "--timeout", "3m",
		"--set", "gitlabUrl="+s.cfg.Runners[0].URL, "--set", "runnerToken="+s.cfg.Runners[0].Token,
		"--set", "image.repository="+repo, "--set", "image.tag="+tag,
		"--set", "runners.image="+s.images.Busybox, "--set", "checkInterval=1s")
	t.Cleanup(func() { run("uninstall", "kr", "--wait", "--timeout", "2m") })

	var ids []int64
	for i := range 2 {
		ids = append(ids, s.srv.Enqueue(s.job(fmt.Sprintf("helm-%d", i), fmt.Sprintf("echo from the helm release %d", i)), nil))
	}
	for i, id := range ids {
		rec := s.finish(t, id, 5*time.Minute)
		if rec.Status != coordinator.StatusSuccess || !strings.Contains(string(rec.Trace), fmt.Sprintf("\nfrom the helm release %d\n", i)) {
			t.Errorf("job %d: %s; trace:\n%s", id, rec.Status, rec.Trace)
		}
		assertReportedOnce(t, rec)
		s.assertNoJobObjects(t, id)
	}
}

// TestKubectlPlugin: kubectl-kuberunner lists a running job with its project and pipeline,
// streams its log while it runs, and describes a failed one (its pod kept while no runner
// runs, as after a runner's crash).
func TestKubectlPlugin(t *testing.T) {
	plugin := goBinary(t, "github.com/kuberunner/kuberunner/cmd/kubectl-kuberunner")
	s := newExecStack(t, func(c *config.Config) { c.ShutdownJobs = config.ShutdownLeave })
	kubectl := func(args ...string) (string, error) {
		out, err := exec.Command(plugin, append(args, "--kubeconfig", e2eutil.Kubeconfig(), "-n", s.ns)...).CombinedOutput()
		return string(out), err
	}
	running := s.srv.Enqueue(s.job("plugin-running", `for i in $(seq 1 40); do echo "line $i"; sleep 1; done`), nil)
	failing := s.srv.Enqueue(s.job("plugin-failing", `echo about to fail; echo line 1; sleep 25; exit 3`), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s.waitLine(ctx, t, []int64{running, failing}, 1)
	// The runner goes away while both jobs run, so the failing job ends in its pod, which
	// then stays to be described: stopping it only after the failing job's sleep let the
	// runner report and delete that pod first.
	s.stop()
	s.waitLine(ctx, t, []int64{running}, 2)

	out, err := kubectl("jobs", "-o", "json")
	if err != nil {
		t.Fatalf("jobs: %v\n%s", err, out)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("jobs -o json: %v\n%s", err, out)
	}
	found := false
	for _, r := range rows {
		if fmt.Sprint(r["job_id"]) == fmt.Sprint(running) {
			found = r["project"] == "group/app" && fmt.Sprint(r["pipeline_id"]) == "1" && r["phase"] == "Running"
			if !found {
				t.Errorf("job %d listed as %v", running, r)
			}
		}
	}
	if !found {
		t.Errorf("running job %d not listed:\n%s", running, out)
	}
	if out, err := kubectl("jobs"); err != nil || !strings.Contains(out, "group/app") {
		t.Errorf("jobs table: %v\n%s", err, out)
	}

	// logs -f streams: lines printed after it started arrive while the job runs.
	cmd := exec.CommandContext(ctx, plugin, "logs", fmt.Sprint(running), "-f", "--kubeconfig", e2eutil.Kubeconfig(), "-n", s.ns)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	streamed := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			mu.Lock()
			seen = append(seen, sc.Text())
			mu.Unlock()
			if sc.Text() == "line 8" {
				close(streamed)
			}
		}
	}()
	select {
	case <-streamed:
	case <-time.After(time.Minute):
		mu.Lock()
		t.Errorf("logs -f did not stream line 8 within a minute; got %q", seen)
		mu.Unlock()
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()

	if rec := s.finish(t, failing, 2*time.Minute); rec.Status != coordinator.StatusFailed {
		t.Fatalf("job %d: %s, want failed", failing, rec.Status)
	}
	// GitLab learns the end from the pod's shipper before the kubelet posts the pod's status.
	if _, err := e2eutil.WaitPod(ctx, s.client, s.ns, executor.PodName(failing), func(p *corev1.Pod) (bool, error) {
		return p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded, nil
	}); err != nil {
		t.Fatal(err)
	}
	out, err = kubectl("describe", fmt.Sprint(failing))
	if err != nil {
		t.Fatalf("describe: %v\n%s", err, out)
	}
	for _, want := range []string{"plugin-failing", "exit code 3", "script_failure"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe of the failed job does not say %q:\n%s", want, out)
		}
	}
	// A new runner adopts what is left and cleans up.
	s.startRunner(t)
	s.finish(t, running, 2*time.Minute)
	s.assertNoJobObjects(t, running)
	s.assertNoJobObjects(t, failing)
}

// splitImage splits registry:port/name:tag@digest into the chart's repository and tag
// (the digest stays with the tag, so the pinned image is what runs).
func splitImage(ref string) (repo, tag string) {
	name, digest, _ := strings.Cut(ref, "@")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		repo, tag = name[:i], name[i+1:]
	} else {
		repo, tag = name, "latest"
	}
	if digest != "" {
		tag += "@" + digest
	}
	return repo, tag
}
