//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/jobspec"
)

func TestExecutorScriptFailure(t *testing.T) {
	s := newExecStack(t, nil)
	id := s.srv.Enqueue(s.job("fails", "echo before-failing", "exit 3"), nil)
	rec := s.finish(t, id, 2*time.Minute)
	if rec.Status != coordinator.StatusFailed || rec.FailureReason != jobspec.ScriptFailure || rec.ExitCode == nil || *rec.ExitCode != 3 {
		t.Errorf("want failed, script_failure, exit code 3; got %s, %s, %v\ntrace:\n%s", rec.Status, rec.FailureReason, rec.ExitCode, rec.Trace)
	}
	if !strings.Contains(string(rec.Trace), "before-failing") {
		t.Errorf("trace lacks the script's output:\n%s", rec.Trace)
	}
	s.assertNoJobObjects(t, id)
}

func TestExecutorMissingImage(t *testing.T) {
	s := newExecStack(t, nil)
	job := s.job("no-image", "true")
	missing := s.images.Registry + "/does-not-exist:1"
	job.Image.Name = missing
	start := time.Now()
	id := s.srv.Enqueue(job, nil)
	rec := s.finish(t, id, 60*time.Second)
	if rec.Status != coordinator.StatusFailed || rec.FailureReason != jobspec.ImagePullFailure {
		t.Errorf("want failed, image_pull_failure; got %s, %s\ntrace:\n%s", rec.Status, rec.FailureReason, rec.Trace)
	}
	if !strings.Contains(string(rec.Trace), missing) {
		t.Errorf("trace does not name the image %s:\n%s", missing, rec.Trace)
	}
	t.Logf("image_pull_failure after %s", time.Since(start).Round(time.Millisecond))
	s.assertNoJobObjects(t, id)
}

func TestExecutorTimeout(t *testing.T) {
	s := newExecStack(t, nil)
	job := s.job("slow", "echo sleeping", "sleep 600")
	job.RunnerInfo.Timeout = 5
	job.Steps[0].Timeout = 5
	id := s.srv.Enqueue(job, nil)
	rec := s.finish(t, id, 2*time.Minute)
	if rec.Status != coordinator.StatusFailed || rec.FailureReason != jobspec.JobExecutionTimeout {
		t.Errorf("want failed, job_execution_timeout; got %s, %s\ntrace:\n%s", rec.Status, rec.FailureReason, rec.Trace)
	}
	s.assertNoJobObjects(t, id)
}

func TestExecutorCancelRunsAfterScript(t *testing.T) {
	s := newExecStack(t, nil)
	job := s.job("cancel", "echo script-started", "sleep 600")
	job.Steps = append(job.Steps, jobspec.Step{Name: jobspec.StepAfterScript, Script: []string{"echo after-script-ran status=$CI_JOB_STATUS"}, Timeout: 60, When: jobspec.WhenAlways})
	id := s.srv.Enqueue(job, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := s.srv.WaitFor(ctx, id, func(r coordinator.JobRecord) bool {
		return strings.Contains(string(r.Trace), "script-started")
	}); err != nil {
		t.Fatalf("script did not start: %v", err)
	}
	canceled := time.Now()
	s.srv.Cancel(id, true)
	rec, err := s.srv.WaitFor(ctx, id, func(r coordinator.JobRecord) bool {
		return strings.Contains(string(r.Trace), "after-script-ran") && len(r.Updates) > 0 && r.Updates[len(r.Updates)-1].State != "running"
	})
	if err != nil {
		t.Fatalf("cancelled job: after_script not seen or not reported: %v\ntrace:\n%s", err, rec.Trace)
	}
	d := time.Since(canceled)
	t.Logf("cancel latency (cancel in GitLab to final state, after_script included): %s", d.Round(time.Millisecond))
	if d > 5*time.Second {
		t.Errorf("cancelled job reported %s after the cancel, want within 5s", d.Round(time.Millisecond))
	}
	if !strings.Contains(string(rec.Trace), "after-script-ran status=canceled") {
		t.Errorf("after_script did not see CI_JOB_STATUS=canceled:\n%s", rec.Trace)
	}
	// The runner returns from the job only once its pod and Secret are gone.
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel2()
	waitNoJobObjects(ctx2, t, s, id)
}
