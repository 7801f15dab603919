package agent

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/internal/testio"
	"github.com/kuberunner/kuberunner/jobspec"
)

// TestRunStopsOnSIGTERM runs the agent as its own process, as in the pod, and sends it
// SIGTERM while the script runs: the script's process group stops, after_script runs with
// CI_JOB_STATUS=canceled, and when:always artifacts are uploaded.
func TestRunStopsOnSIGTERM(t *testing.T) {
	job := withAfterScript(baseJob("touch started", "sleep 60 & sleep 60", "echo not-reached"), `echo "status=$CI_JOB_STATUS" > after.txt`)
	job.Artifacts = []jobspec.Artifact{
		{Name: "always", Paths: []string{"after.txt", "started"}, When: jobspec.WhenAlways, ArtifactType: "archive"},
		{Name: "success", Paths: []string{"started"}, When: jobspec.WhenOnSuccess, ArtifactType: "archive"},
	}
	e := newEnv(t, job)
	if err := os.MkdirAll(e.project, 0o755); err != nil {
		t.Fatal(err)
	}
	uploads := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var log testio.Buffer
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), "KR_STEP_TEST=run", "KR_STEP_JOB_DIR="+e.jobDir, "KR_STEP_BIN_DIR="+e.binDir,
		"KR_STEP_TERMINATION_LOG="+e.termLog, "KR_STEP_UPLOAD_DIR="+uploads)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	waitFor(t, 30*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(e.project, "started"))
		return err == nil
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("agent still running a minute after SIGTERM; log:\n%s", log.String())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 128+int(syscall.SIGTERM) {
		t.Errorf("agent ended with %v, want exit code %d; log:\n%s", err, 128+int(syscall.SIGTERM), log.String())
	}
	if strings.Contains(log.String(), "not-reached\n") {
		t.Errorf("script went on after SIGTERM:\n%s", log.String())
	}
	if got, _ := os.ReadFile(filepath.Join(e.project, "after.txt")); string(got) != "status=canceled\n" {
		t.Errorf("after_script wrote %q, want status=canceled", got)
	}
	entries, err := os.ReadDir(uploads)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, en := range entries {
		names = append(names, en.Name())
	}
	if d := cmp.Diff([]string{"archive-always.zip"}, names); d != "" {
		t.Errorf("uploads -want +got:\n%s", d)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, deadline time.Duration, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(deadline)
	for !cond() {
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("condition not met within %s", deadline)
		}
	}
}
