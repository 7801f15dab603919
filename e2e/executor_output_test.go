//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/coordinator"
)

// TestExecutorOutputArrivesIntact: output of the three shapes that broke the kubelet-log
// reader (many short lines, long lines, one line with no newline) reaches the coordinator
// byte for byte, under the checksum the final state carries, reported once. The expected
// bytes are computed here, not by the job, so a lost or repeated chunk cannot hide.
func TestExecutorOutputArrivesIntact(t *testing.T) {
	s := newExecStack(t, func(c *config.Config) { c.Runners[0].OutputLimit = 200 << 10 })
	cases := []struct {
		name, gen string
		want      func() []byte
	}{
		{"short-lines", "seq 1 6692488", func() []byte { // 50 MiB in 8-byte lines
			var b bytes.Buffer
			for i := 1; i <= 6692488; i++ {
				fmt.Fprintf(&b, "%d\n", i)
			}
			return b.Bytes()
		}},
		{"long-lines", `awk 'BEGIN { s = sprintf("%1023s", ""); gsub(/ /, "x", s); for (i = 1; i <= 20480; i++) print i " " s }'`, func() []byte {
			var b bytes.Buffer
			line := strings.Repeat("x", 1023)
			for i := 1; i <= 20480; i++ {
				fmt.Fprintf(&b, "%d %s\n", i, line)
			}
			return b.Bytes()
		}},
		{"no-newline", "head -c 3000000 /dev/zero | tr '\\0' y", func() []byte {
			return bytes.Repeat([]byte("y"), 3000000)
		}},
	}
	ids := make([]int64, len(cases))
	for i, c := range cases {
		ids[i] = s.srv.Enqueue(s.job(c.name, "echo OUTPUT-BEGIN; "+c.gen), nil)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := s.finish(t, ids[i], 8*time.Minute)
			if rec.Status != coordinator.StatusSuccess {
				t.Fatalf("want success, got %s %s; trace ends:\n%s", rec.Status, rec.FailureReason, tail(rec.Trace, 2000))
			}
			want := c.want()
			start := bytes.Index(rec.Trace, []byte("\nOUTPUT-BEGIN\n"))
			if start < 0 {
				t.Fatalf("no OUTPUT-BEGIN in a %d-byte trace", len(rec.Trace))
			}
			got := rec.Trace[start+len("\nOUTPUT-BEGIN\n"):]
			if len(got) < len(want) || !bytes.Equal(got[:len(want)], want) {
				n := min(len(got), len(want))
				at := 0
				for at < n && got[at] == want[at] {
					at++
				}
				t.Fatalf("output differs from byte %d of %d (trace has %d after the marker): got %q, want %q",
					at, len(want), len(got), clip(got[at:], 80), clip(want[at:], 80))
			}
			assertReportedOnce(t, rec)
			s.assertNoJobObjects(t, ids[i])
		})
	}
}

// assertReportedOnce checks the job got exactly one final state, and its checksum and size
// were those of the whole trace.
func assertReportedOnce(t *testing.T, rec coordinator.JobRecord) {
	t.Helper()
	finals := 0
	for _, u := range rec.Updates {
		if u.State == coordinator.StatusSuccess || u.State == coordinator.StatusFailed {
			finals++
			if u.Checksum == "" {
				t.Errorf("the final state carries no checksum")
			}
		}
	}
	if finals != 1 {
		t.Errorf("%d final states reported, want exactly one", finals)
	}
	if rec.ChecksumMismatch {
		t.Errorf("the final state's checksum or size disagrees with the %d-byte trace", len(rec.Trace))
	}
}

func tail(b []byte, n int) []byte { return b[max(0, len(b)-n):] }

func clip(b []byte, n int) []byte { return b[:min(len(b), n)] }
