package runner

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/jobspec"
)

// podDirs lays out a job pod's job and trace folders for ShipPod, the runner's part of the
// trace already at the fake coordinator.
type podDirs struct {
	job, trace, term string
	prologue         string
}

func newPodDirs(t *testing.T, coord *fakeCoord, id int64, limit int64) podDirs {
	t.Helper()
	d := podDirs{job: t.TempDir(), trace: t.TempDir(), prologue: "Running with kuberunner\n"}
	d.term = filepath.Join(t.TempDir(), "termination-log")
	coord.traces[id] = []byte(d.prologue)
	job := jobspec.Job{ID: id, Token: "job-token-secret"}
	cfg := jobpod.Config{GitLabURL: "http://gitlab.invalid", Trace: &jobpod.Trace{
		Offset: int64(len(d.prologue)), CRC: crc32.ChecksumIEEE([]byte(d.prologue)),
		Limit: limit, IntervalMS: 10, KeepAliveMS: 3_600_000, MaxLag: 1 << 20,
	}}
	writeJSON(t, filepath.Join(d.job, jobpod.JobFile), job)
	writeJSON(t, filepath.Join(d.job, jobpod.ConfigFile), cfg)
	return d
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// appendTrace writes to the trace file as the agent does, in pieces.
func (d podDirs) appendTrace(t *testing.T, s string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(d.trace, jobpod.TraceLog), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for len(s) > 0 {
		n := min(len(s), 100_000)
		if _, err := f.WriteString(s[:n]); err != nil {
			t.Fatal(err)
		}
		s = s[n:]
	}
}

func (d podDirs) state(t *testing.T) jobpod.ShipperState {
	t.Helper()
	var st jobpod.ShipperState
	b, err := os.ReadFile(d.term)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func startShipPod(t *testing.T, coord *fakeCoord, d podDirs) (stop chan struct{}, done chan error) {
	stop, done = make(chan struct{}), make(chan error, 1)
	go func() {
		done <- ShipPod(waitCtx(t), stop, PodShipOptions{JobDir: d.job, TraceDir: d.trace, TerminationLog: d.term, GitLab: coord})
	}()
	return stop, done
}

func waitShipPod(t *testing.T, done chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ShipPod: %v", err)
		}
	case <-time.After(testDeadline):
		t.Fatal("ShipPod did not return")
	}
}

func TestShipPodDeliversTheTraceAndTheFinalState(t *testing.T) {
	coord := newFakeCoord()
	d := newPodDirs(t, coord, 7, 0)
	stop, done := startShipPod(t, coord, d)
	// 3 MiB in 8-byte lines: several patches of at most 1 MiB.
	var out strings.Builder
	for i := 0; out.Len() < 3<<20; i++ {
		fmt.Fprintf(&out, "%07d\n", i)
	}
	d.appendTrace(t, out.String())
	writeJSON(t, filepath.Join(d.trace, jobpod.TraceVerdict), jobpod.Verdict{ExitCode: 0})

	final := waitFinalAt(t, coord, 7)
	// Once the final state is delivered the shipper exits by itself, so its termination
	// message reaches the runner without waiting for the pod's other sidecars to stop.
	waitShipPod(t, done)
	close(stop)

	got := coord.trace(7)
	want := d.prologue + out.String() + "\x1b[32;1mJob succeeded\x1b[0;m\n"
	if got != want {
		t.Fatalf("trace at the coordinator: %d bytes, want %d; ends %q", len(got), len(want), got[max(0, len(got)-80):])
	}
	if sum := fmt.Sprintf("crc32:%08x", crc32.ChecksumIEEE([]byte(want))); final.State != gitlab.StateSuccess || final.Checksum != sum || final.Bytesize != int64(len(want)) {
		t.Errorf("final state %+v, want success with %s and %d bytes", final, sum, len(want))
	}
	if st := d.state(t); !st.Reported || st.Offset != int64(len(want)) {
		t.Errorf("termination message %+v: want reported at %d", st, len(want))
	}
	if n := len(coord.updates[7]); n != 1 {
		t.Errorf("%d updates, want exactly one final state", n)
	}
}

func TestShipPodWithoutVerdictLeavesTheReportToTheRunner(t *testing.T) {
	coord := newFakeCoord()
	d := newPodDirs(t, coord, 8, 0)
	stop, done := startShipPod(t, coord, d)
	d.appendTrace(t, "printed before the OOM kill\nhalf a li")
	close(stop) // the job's container was killed: the kubelet stops the shipper
	waitShipPod(t, done)

	got := coord.trace(8)
	if want := d.prologue + "printed before the OOM kill\nhalf a li"; got != want {
		t.Errorf("trace %q, want %q", got, want)
	}
	if _, ok := coord.finalState(8); ok {
		t.Error("the shipper sent a final state without the agent's verdict")
	}
	st := d.state(t)
	if st.Reported || !st.Complete || st.Offset != int64(len(got)) || st.CRC != crc32.ChecksumIEEE([]byte(got)) {
		t.Errorf("termination message %+v: want unreported and complete at %d with crc %08x", st, len(got), crc32.ChecksumIEEE([]byte(got)))
	}
}

// TestShipPodGivesUpIncomplete: a coordinator that never takes the end of the trace leaves
// the shipper's state incomplete, so the runner does not report the job a success.
func TestShipPodGivesUpIncomplete(t *testing.T) {
	defer func(b gitlab.Backoff, n int) { podBackoff, podReportTries = b, n }(podBackoff, podReportTries)
	podBackoff, podReportTries = gitlab.Backoff{Min: time.Millisecond, Max: time.Millisecond}, 3
	coord := newFakeCoord()
	d := newPodDirs(t, coord, 10, 0)
	coord.patch = func(id, off int64, data []byte) (gitlab.PatchTraceResult, error, bool) {
		return gitlab.PatchTraceResult{}, fmt.Errorf("PATCH: %w", gitlab.ErrTransient), true
	}
	stop, done := startShipPod(t, coord, d)
	d.appendTrace(t, "never delivered\n")
	writeJSON(t, filepath.Join(d.trace, jobpod.TraceVerdict), jobpod.Verdict{})
	close(stop)
	waitShipPod(t, done)
	if st := d.state(t); st.Complete || st.Reported {
		t.Errorf("termination message %+v: want neither complete nor reported", st)
	}
}

func TestShipPodStoppedVerdictIsNotReported(t *testing.T) {
	coord := newFakeCoord()
	d := newPodDirs(t, coord, 9, 0)
	stop, done := startShipPod(t, coord, d)
	d.appendTrace(t, "after_script ran\n")
	writeJSON(t, filepath.Join(d.trace, jobpod.TraceVerdict), jobpod.Verdict{ExitCode: 143, Stopped: true})
	close(stop)
	waitShipPod(t, done)
	if _, ok := coord.finalState(9); ok {
		t.Error("a job stopped by a deletion was reported by the pod; only the runner knows why")
	}
	if got := coord.trace(9); !strings.HasSuffix(got, "after_script ran\n") {
		t.Errorf("trace %q lacks the output before the stop", got)
	}
}

func TestShipPodAppliesTheOutputLimit(t *testing.T) {
	coord := newFakeCoord()
	d := newPodDirs(t, coord, 10, 100)
	stop, done := startShipPod(t, coord, d)
	d.appendTrace(t, strings.Repeat("x", 500))
	writeJSON(t, filepath.Join(d.trace, jobpod.TraceVerdict), jobpod.Verdict{ExitCode: 1})
	final := waitFinalAt(t, coord, 10)
	close(stop)
	waitShipPod(t, done)
	got := coord.trace(10)
	if !strings.HasPrefix(got, d.prologue+strings.Repeat("x", 100-len(d.prologue))+"\n") ||
		!strings.Contains(got, "exceeded limit of 100 bytes") || !strings.Contains(got, "exit code 1") {
		t.Errorf("trace past the limit:\n%q", got)
	}
	if final.State != gitlab.StateFailed || final.FailureReason != jobspec.ScriptFailure || final.ExitCode == nil || *final.ExitCode != 1 {
		t.Errorf("final state %+v, want failed script_failure exit 1", final)
	}
}

func TestShipPodPassesTheCancelToTheAgent(t *testing.T) {
	coord := newFakeCoord()
	coord.patch = func(id, off int64, data []byte) (gitlab.PatchTraceResult, error, bool) {
		return gitlab.PatchTraceResult{SentOffset: off + int64(len(data)), JobStatus: "canceling"}, nil, true
	}
	d := newPodDirs(t, coord, 11, 0)
	stop, done := startShipPod(t, coord, d)
	d.appendTrace(t, "sleeping\n")
	deadline := time.Now().Add(testDeadline)
	for {
		if _, err := os.Stat(filepath.Join(d.trace, jobpod.TraceCancel)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("GitLab's cancel did not reach the agent")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	waitShipPod(t, done)
}
