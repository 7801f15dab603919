//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/executor/jobpod"
)

// podObserver notes when the test first saw each job's pod, through an informer: the
// API server's creationTimestamp has whole seconds only.
type podObserver struct {
	mu   sync.Mutex
	seen map[string]time.Time // job id -> first seen
}

func newPodObserver(b *testing.B, s *execStack) *podObserver {
	po := &podObserver{seen: map[string]time.Time{}}
	s.watchJobObjects(b, cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		po.mu.Lock()
		defer po.mu.Unlock()
		if id := pod.Labels[jobpod.LabelJobID]; id != "" && po.seen[id].IsZero() {
			po.seen[id] = time.Now()
		}
	}}, nil)
	return po
}

func (po *podObserver) at(id int64) time.Time {
	po.mu.Lock()
	defer po.mu.Unlock()
	return po.seen[strconv.FormatInt(id, 10)]
}

// jobPhases are offsets from the moment a job was queued.
type jobPhases struct{ podCreated, firstByte, output, final time.Duration }

// timeJob queues a job whose script prints "hi" and times its phases as the coordinator
// and the API server see them.
func (s *execStack) timeJob(b *testing.B, po *podObserver, script string) jobPhases {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t0 := time.Now()
	id := s.srv.Enqueue(s.job("trivial", script), nil)
	var p jobPhases
	var wg sync.WaitGroup
	wait := func(d *time.Duration, cond func(coordinator.JobRecord) bool) {
		wg.Go(func() {
			if _, err := s.srv.WaitFor(ctx, id, cond); err == nil {
				*d = time.Since(t0)
			}
		})
	}
	wait(&p.firstByte, func(r coordinator.JobRecord) bool { return len(r.Trace) > 0 })
	wait(&p.output, func(r coordinator.JobRecord) bool { return bytes.Contains(r.Trace, []byte("\nhi\n")) })
	rec := s.finish(b, id, 3*time.Minute)
	wg.Wait()
	if rec.Status != coordinator.StatusSuccess {
		b.Fatalf("job %d: %s; trace:\n%s", id, rec.Status, rec.Trace)
	}
	p.final = rec.FinishedAt.Sub(t0)
	p.podCreated = po.at(id).Sub(t0)
	return p
}

// rssMiB reads a field of /proc/<pid>/status (VmRSS, VmHWM) in MiB; 0 when unreadable.
func rssMiB(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// settleRSS is the runner's resident memory after it has polled idle for d.
func settleRSS(p *runnerProcess, d time.Duration) float64 {
	time.Sleep(d)
	return rssMiB(p.cmd.Process.Pid, "VmRSS")
}

// measureBigLog runs a job printing 50 MiB and returns the runner's peak resident memory.
func measureBigLog(b *testing.B, s *execStack, p *runnerProcess) float64 {
	id := s.srv.Enqueue(s.job("big-log", "seq 1 6692488"), nil)
	if rec := s.finish(b, id, 8*time.Minute); rec.Status != coordinator.StatusSuccess {
		b.Fatalf("50 MiB job: %s", rec.Status)
	}
	return rssMiB(p.cmd.Process.Pid, "VmHWM")
}

// measureRSSWithJobs runs n jobs at once and returns the most resident memory the runner
// had while they ran.
func measureRSSWithJobs(b *testing.B, s *execStack, p *runnerProcess, n int) float64 {
	var ids []int64
	for i := range n {
		ids = append(ids, s.srv.Enqueue(s.job(fmt.Sprintf("held-%d", i), "sleep 20; echo done"), nil))
	}
	done := make(chan struct{})
	peak := 0.0
	go func() {
		defer close(done)
		for _, id := range ids {
			s.finish(b, id, 8*time.Minute)
		}
	}()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return peak
		case <-tick.C:
			peak = max(peak, rssMiB(p.cmd.Process.Pid, "VmRSS"))
		}
	}
}

func (r *benchReport) print(w io.Writer) {
	ratio := func(v, base float64) string {
		if base == 0 {
			return ""
		}
		return fmt.Sprintf("%.2f×", v/base)
	}
	fmt.Fprintf(w, "\nkuberunner vs a bare pod (medians of %d interleaved rounds)\n", r.Rounds)
	fmt.Fprintf(w, "%-44s %12s %12s %8s\n", "measure", "kuberunner", "bare pod", "ratio")
	row := func(name string, v, base float64, unit string) {
		f := "%.1f %s"
		if unit == "s" {
			f = "%.3f %s" // phases are tens of milliseconds
		}
		b := ""
		if base != 0 {
			b = fmt.Sprintf(f, base, unit)
		}
		fmt.Fprintf(w, "%-44s %12s %12s %8s\n", name, fmt.Sprintf(f, v, unit), b, ratio(v, base))
	}
	row("trivial job queued→final / pod create→done", r.JobMedianS, r.PodMedianS, "s")
	row("  queued→pod created", r.PodCreatedS, 0, "s")
	row("  queued→first trace byte", r.FirstByteS, 0, "s")
	row("  pod created→script output at GitLab", r.ScriptOutS, 0, "s")
	row("  script output→final state", r.OutToFinalS, 0, "s")
	row("burst of 20 at concurrency 4 (median of 3)", r.BurstJobsMin, r.BurstPodsMin, "/min")
	row("runner RSS idle", r.RSSIdleMiB, 0, "MiB")
	row("runner RSS, 20 jobs running", r.RSS20JobsMiB, 0, "MiB")
	row("runner peak RSS, 50 MiB log", r.PeakRSSLogMiB, 0, "MiB")
	row("image build job: cold", r.BuildColdS, 0, "s")
	row("image build job: unchanged (all cached)", r.BuildCachedS, 0, "s")
	row("image build job: one-line change", r.BuildChangedS, 0, "s")
}
