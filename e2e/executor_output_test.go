//go:build e2e

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/coordinator"
)

// TestExecutorLargeOutputArrivesIntact: 50 MB of output (lines of 1 KiB) reaches the
// coordinator byte for byte; the script prints the checksum of what it wrote last.
func TestExecutorLargeOutputArrivesIntact(t *testing.T) {
	s := newExecStack(t, func(c *config.Config) { c.Runners[0].OutputLimit = 200 << 10 })
	const gen = `awk 'BEGIN { s = sprintf("%1023s", ""); gsub(/ /, "x", s); for (i = 1; i <= 51200; i++) print i " " s }' >/tmp/out; cat /tmp/out; echo "SUM $(sha256sum /tmp/out | cut -d' ' -f1)"`
	id := s.srv.Enqueue(s.job("big", gen), nil)
	rec := s.finish(t, id, 5*time.Minute)
	if rec.Status != coordinator.StatusSuccess {
		t.Fatalf("want success, got %s %s; trace ends:\n%s", rec.Status, rec.FailureReason, rec.Trace[max(0, len(rec.Trace)-2000):])
	}
	trace := string(rec.Trace)
	i := strings.Index(trace, "\n1 x")
	j := strings.LastIndex(trace, "\nSUM ")
	if i < 0 || j < 0 {
		t.Fatalf("output markers not found in a %d-byte trace", len(trace))
	}
	body := trace[i+1 : j+1]
	sum := sha256.Sum256([]byte(body))
	want := strings.Fields(trace[j:])[1]
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Errorf("output of %d bytes arrived with sha256 %s, the pod wrote %s", len(body), got, want)
	}
	s.assertNoJobObjects(t, id)
}
