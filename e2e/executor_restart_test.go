//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/jobspec"
)

// TestExecutorRunnerRestartLosesNothing: the runner stops (SIGTERM, shutdown_jobs: leave)
// while four jobs run, and another process starts 15 s later, as in a rolling upgrade.
// Meanwhile the pods carry on: one job ends with a script failure its pod reports itself,
// one has its script killed by the memory limit, one runs past its deadline so the kubelet
// stops its pod, which the pod cannot report (the new process does, from the pod alone),
// and one outlives the gap. Every job ends at the coordinator reported exactly once, its output complete and
// in order, under the right checksum, and nothing of them is left in the cluster.
func TestExecutorRunnerRestartLosesNothing(t *testing.T) {
	s := newExecStack(t, func(c *config.Config) {
		c.ShutdownJobs = config.ShutdownLeave
		c.Runners[0].Kubernetes.Build.MemoryLimitMaxAllowed = "1Gi"
		c.Runners[0].Kubernetes.DeadlineMargin = config.Duration(5 * time.Second)
	})
	long := s.job("long", `for i in $(seq 1 40); do echo "line $i"; sleep 0.5; done`)
	failing := s.job("failing", `for i in $(seq 1 6); do echo "line $i"; sleep 0.5; done; exit 3`)
	oom := s.job("oom", `for i in $(seq 1 6); do echo "line $i"; sleep 0.5; done; tail /dev/zero`)
	oom.Variables = append(oom.Variables, jobspec.Variable{Key: "KUBERNETES_MEMORY_LIMIT", Value: "64Mi", Public: true})
	late := s.job("late", `for i in $(seq 1 6); do echo "line $i"; sleep 0.5; done; sleep 120`)
	late.RunnerInfo.Timeout = 10 // the pod's deadline is 15 s: the kubelet stops it in the gap
	ids := []int64{s.srv.Enqueue(long, nil), s.srv.Enqueue(failing, nil), s.srv.Enqueue(oom, nil), s.srv.Enqueue(late, nil)}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s.waitLine(ctx, t, ids, 2)
	s.stop()
	t.Log("runner stopped; its jobs are left to their pods")
	time.Sleep(15 * time.Second)
	restarted := time.Now()
	s.startRunner(t)

	want := []struct {
		status string
		reason jobspec.FailureReason
		lines  int
		tail   string
	}{
		{coordinator.StatusSuccess, "", 40, "Job succeeded"},
		{coordinator.StatusFailed, jobspec.ScriptFailure, 6, "exit code 3"},
		{coordinator.StatusFailed, jobspec.ScriptFailure, 6, "The script ran out of memory"},
		{coordinator.StatusFailed, jobspec.JobExecutionTimeout, 6, "active deadline"},
	}
	for i, id := range ids {
		rec := s.finish(t, id, 3*time.Minute)
		t.Logf("job %d final %s after the restart", id, rec.FinishedAt.Sub(restarted).Round(100*time.Millisecond))
		w := want[i]
		if rec.Status != w.status || rec.FailureReason != w.reason {
			t.Errorf("job %d: %s %q, want %s %q; trace ends:\n%s", id, rec.Status, rec.FailureReason, w.status, w.reason, tail(rec.Trace, 1500))
		}
		if !bytes.Contains(rec.Trace, numbered("line", w.lines)) {
			t.Errorf("job %d: lines 1..%d not in the trace once and in order:\n%s", id, w.lines, rec.Trace)
		}
		if n := bytes.Count(rec.Trace, []byte("line 1\n")); n != 1 {
			t.Errorf("job %d: 'line 1' appears %d times", id, n)
		}
		if !bytes.Contains(tail(rec.Trace, 600), []byte(w.tail)) {
			t.Errorf("job %d: the trace does not end saying %q:\n%s", id, w.tail, tail(rec.Trace, 600))
		}
		assertReportedOnce(t, rec)
		s.assertNoJobObjects(t, id)
	}
}
