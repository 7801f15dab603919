package pipeline

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/jobspec"
)

func TestOutputLogsStatesAndProgress(t *testing.T) {
	var b bytes.Buffer
	now := time.Unix(1000, 0)
	o := NewOutput(&b, nil)
	o.now = func() time.Time { return now }
	o.last = now

	o.State("build", "pending", "job #1")
	o.Log("build", []byte("\x1b[0Ksection_start:1700000000:get_sources\r\x1b[0KGetting sources\nhal"))
	o.Log("test", []byte("other job\n"))
	o.Log("build", []byte("f a line\r\nno newline"))
	o.EndLog("build")
	now = now.Add(9 * time.Second)
	if o.Silent(10 * time.Second) {
		t.Error("Silent(10s) after 9s of silence")
	}
	now = now.Add(time.Second)
	if !o.Silent(10 * time.Second) {
		t.Error("not Silent(10s) after 10s of silence")
	}
	o.Progress(95*time.Second, []string{"build", "test"}, 3)
	o.State("build", "failed", "script_failure, exit code 2")

	want := `==> build: pending (job #1)
[build] Getting sources
[test] other job
[build] half a line
[build] no newline
... 1m35s elapsed: 2 running (build, test), 3 waiting
==> build: failed (script_failure, exit code 2)
`
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Errorf("output -want +got:\n%s", d)
	}
}

func TestOutputFollowsOnlyNamedJobs(t *testing.T) {
	var b bytes.Buffer
	o := NewOutput(&b, []string{"test"})
	o.Log("build", []byte("hidden\n"))
	o.Log("test", []byte("shown\n"))
	o.State("build", "success", "")
	if d := cmp.Diff("[test] shown\n==> build: success\n", b.String()); d != "" {
		t.Errorf("output -want +got:\n%s", d)
	}
}

func TestOutputTable(t *testing.T) {
	var b bytes.Buffer
	o := NewOutput(&b, nil)
	o.Table(Result{PipelineID: 4, Status: StatusFailed, Duration: 83 * time.Second, Jobs: []JobResult{
		{Name: "build", Stage: "build", Status: StatusSuccess, Attempts: 2, Duration: 12340 * time.Millisecond},
		{Name: "lint", Stage: "test", Status: StatusFailed, AllowedFailure: true, Attempts: 1, Duration: time.Second},
		{Name: "test", Stage: "test", Status: StatusFailed, FailureReason: jobspec.ScriptFailure, ExitCode: 2, Attempts: 1, Duration: 2 * time.Second},
		{Name: "deploy", Stage: "deploy", Status: StatusSkipped, Note: "earlier jobs failed"},
	}})
	want := `
JOB     STAGE   STATUS                               DURATION
build   build   success after 2 attempts             12.3s
lint    test    failed (allowed)                     1s
test    test    failed: script_failure, exit code 2  2s
deploy  deploy  skipped: earlier jobs failed         -

Pipeline #4 failed in 1m23s
`
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Errorf("table -want +got:\n%s", d)
	}
}

func TestOutputColourOnlyForTerminals(t *testing.T) {
	line := "\x1b[32;1mJob succeeded\x1b[0;m\x1b[0K\n"
	var b bytes.Buffer
	o := NewOutput(&b, nil)
	o.Log("build", []byte(line))
	if got := b.String(); got != "[build] Job succeeded\n" {
		t.Errorf("to a buffer: %q, want no ANSI codes", got)
	}
	b.Reset()
	o.colour = true
	o.Log("build", []byte(line))
	if got := b.String(); got != "[build] "+line {
		t.Errorf("with colour: %q, want the codes kept", got)
	}
}

func TestColour(t *testing.T) {
	var b bytes.Buffer
	if Colour(&b) {
		t.Error("Colour(buffer) = true")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if Colour(f) {
		t.Error("Colour(regular file) = true")
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		if !Colour(tty) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb" {
			t.Error("Colour(/dev/tty) = false")
		}
		t.Setenv("NO_COLOR", "1")
		if Colour(tty) {
			t.Error("Colour(/dev/tty) = true with NO_COLOR set")
		}
	}
}
