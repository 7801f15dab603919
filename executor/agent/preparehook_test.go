package agent

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/jobspec"
)

// inShipper sets the job's agent configuration as the pod builder does when prepare runs in
// the shipper's hook, and returns the options of both sides with one trace directory.
func inShipper(t *testing.T, e *env) (Options, string) {
	t.Helper()
	o, dir := withTraceDir(t, e)
	path := filepath.Join(e.jobDir, jobpod.ConfigFile)
	var cfg jobpod.Config
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, &cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	cfg.PrepareInShipper = true
	if b, err = json.Marshal(cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	o.Stdout = e.log
	return o, dir
}

// A hook that failed to get the sources still succeeds (a failing hook restarts the
// shipper), and the build container's agent fails the job with prepare's reason without
// running the script.
func TestPrepareInShipperFailureReachesTheBuildContainer(t *testing.T) {
	job := gitJob("file://"+filepath.Join(t.TempDir(), "missing"), strings.Repeat("a", 40))
	job.Steps[0].Script = []string{"echo the script ran"}
	e := newEnv(t, job)
	o, dir := inShipper(t, e)
	hook := o
	hook.Stdout = io.Discard
	if code := PrepareInShipper(context.Background(), hook); code != 0 {
		t.Fatalf("hook exit code %d, want 0 whatever prepare did", code)
	}
	if _, err := os.Stat(filepath.Join(dir, jobpod.TracePrepared)); err != nil {
		t.Fatalf("no record that prepare is over: %v", err)
	}
	if code := Run(context.Background(), o); code != 1 {
		t.Fatalf("build exit code %d, want 1", code)
	}
	v := readVerdict(t, dir)
	if v.Reason != string(jobspec.RunnerSystemFailure) || !strings.Contains(v.Message, "get sources") {
		t.Errorf("verdict %+v, want prepare's runner_system_failure", v)
	}
	if f := e.failure(t); f == nil || f.Reason != string(jobspec.RunnerSystemFailure) {
		t.Errorf("termination message %+v, want prepare's failure", f)
	}
	trace, _ := os.ReadFile(filepath.Join(dir, jobpod.TraceLog))
	if strings.Contains(string(trace), "the script ran") {
		t.Errorf("the script ran after prepare failed:\n%s", trace)
	}
	if n := strings.Count(string(trace), "ERROR:"); n != 1 {
		t.Errorf("prepare's error is in the trace %d times, want once:\n%s", n, trace)
	}
	// The build container's log shows prepare's part too, as the prepare container's did.
	if log := e.log.String(); !strings.Contains(log, "ERROR:") || !strings.Contains(log, "get sources") {
		t.Errorf("the build container's log does not replay prepare's output:\n%s", log)
	}
}

// A hook that runs again (the kubelet restarted the shipper) leaves the workspace alone, and
// a job whose prepare never finished does not run its script.
func TestPrepareInShipperRunsOnce(t *testing.T) {
	e := newEnv(t, baseJob("echo the script ran"))
	o, dir := inShipper(t, e)
	if code := Run(context.Background(), o); code != 1 {
		t.Fatalf("build exit code %d before prepare finished, want 1", code)
	}
	if v := readVerdict(t, dir); v.Reason != string(jobspec.RunnerSystemFailure) || !strings.Contains(v.Message, "did not finish") {
		t.Errorf("verdict %+v, want a runner_system_failure saying prepare did not finish", v)
	}
	if err := os.WriteFile(filepath.Join(dir, jobpod.TracePrepared), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := PrepareInShipper(context.Background(), o); code != 0 {
		t.Fatalf("hook exit code %d", code)
	}
	if _, err := os.Stat(filepath.Join(e.binDir, "kuberunner")); err == nil {
		t.Error("a second hook ran prepare again")
	}
}
