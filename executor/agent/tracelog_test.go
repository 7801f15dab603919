package agent

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/jobspec"
)

// withTraceDir gives the env's agent trace settings, so it writes the pod's trace file.
func withTraceDir(t *testing.T, e *env) (Options, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(e.jobDir, jobpod.ConfigFile)
	var cfg jobpod.Config
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Trace = &jobpod.Trace{Offset: 100, MaxLag: 1 << 20}
	if b, err = json.Marshal(cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	o := e.options()
	o.Log, o.TraceDir = nil, dir
	return o, dir
}

func readVerdict(t *testing.T, dir string) jobpod.Verdict {
	t.Helper()
	var v jobpod.Verdict
	b, err := os.ReadFile(filepath.Join(dir, jobpod.TraceVerdict))
	if err != nil {
		t.Fatalf("no verdict: %v", err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRunWritesTheTraceFileMaskedAndItsVerdict(t *testing.T) {
	e := newEnv(t, baseJob("echo hello $CI_JOB_TOKEN", "exit 3"))
	o, dir := withTraceDir(t, e)
	if code := Run(context.Background(), o); code != 3 {
		t.Fatalf("exit code %d, want 3", code)
	}
	b, err := os.ReadFile(filepath.Join(dir, jobpod.TraceLog))
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); !strings.Contains(s, "hello [MASKED]") || strings.Contains(s, "job-token-s3cr3t") {
		t.Errorf("trace file, masked, should say hello:\n%s", s)
	}
	if v := readVerdict(t, dir); v != (jobpod.Verdict{ExitCode: 3}) {
		t.Errorf("verdict %+v, want exit code 3 and nothing else", v)
	}
}

func TestRunStopsItsScriptWhenGitLabCancels(t *testing.T) {
	e := newEnv(t, withAfterScript(baseJob("echo started", "sleep 30"), `echo "after: $CI_JOB_STATUS"`))
	o, dir := withTraceDir(t, e)
	time.AfterFunc(300*time.Millisecond, func() { _ = os.WriteFile(filepath.Join(dir, jobpod.TraceCancel), nil, 0o644) })
	start := time.Now()
	Run(context.Background(), o)
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("the script ran on for %s after the cancel", d)
	}
	v := readVerdict(t, dir)
	if v.Stopped || v.Reason != string(jobspec.ScriptFailure) || !strings.Contains(v.Message, "canceled") {
		t.Errorf("verdict %+v: want a canceled script_failure the shipper reports", v)
	}
	b, _ := os.ReadFile(filepath.Join(dir, jobpod.TraceLog))
	if !strings.Contains(string(b), "after: canceled") {
		t.Errorf("after_script did not run with CI_JOB_STATUS=canceled:\n%s", b)
	}
}

func TestTraceFileWaitsForTheShipper(t *testing.T) {
	dir := t.TempDir()
	tf, err := openTraceFile(dir, &jobpod.Trace{MaxLag: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer tf.Close()
	if _, err := tf.Write(make([]byte, 150)); err != nil { // first write: nothing acknowledged, not far ahead
		t.Fatal(err)
	}
	wrote := make(chan struct{})
	go func() {
		_, _ = tf.Write([]byte("more\n"))
		close(wrote)
	}()
	select {
	case <-wrote:
		t.Fatal("a write 150 bytes ahead of the shipper did not wait with a lag bound of 100")
	case <-time.After(200 * time.Millisecond):
	}
	b, _ := json.Marshal(jobpod.ShipperState{Consumed: 150})
	if err := os.WriteFile(filepath.Join(dir, jobpod.TraceProgress), b, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wrote:
	case <-time.After(5 * time.Second):
		t.Fatal("the write did not go on once the shipper caught up")
	}
}
