package coordinator_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/coordinator/coordinatortest"
	"github.com/kuberunner/kuberunner/jobspec"
)

// These test coordinatortest's hooks against the real coordinator, through this package's
// HTTP helpers.

func TestWaitFor(t *testing.T) {
	s, a := start(t, coordinator.Options{})
	job := runningJob(t, s, a)
	ctx := testContext(t)

	done := make(chan struct{})
	var rec coordinator.JobRecord
	var err error
	go func() {
		defer close(done)
		rec, err = s.WaitFor(ctx, job.ID, coordinator.JobRecord.Finished)
	}()
	a.patch(job.ID, job.Token, 0, "log")
	a.put(job.ID, job.Token, map[string]any{"state": "success"})
	<-done
	if err != nil || rec.Status != coordinator.StatusSuccess || string(rec.Trace) != "log" {
		t.Errorf("WaitFor = status %q trace %q err %v, want success, log, nil", rec.Status, rec.Trace, err)
	}

	short, cancel := context.WithCancel(ctx)
	cancel()
	rec, err = s.WaitFor(short, job.ID, func(r coordinator.JobRecord) bool { return r.Status == coordinator.StatusFailed })
	if !errors.Is(err, context.Canceled) || rec.ID != job.ID {
		t.Errorf("WaitFor with an ended context = record %d, err %v; want the last record and context.Canceled", rec.ID, err)
	}
	if _, err := s.WaitFor(ctx, 999, coordinator.JobRecord.Finished); !errors.Is(err, coordinatortest.ErrUnknownJob) {
		t.Errorf("WaitFor unknown job: err %v, want ErrUnknownJob", err)
	}
}

func TestFailNext(t *testing.T) {
	s, a := start(t, coordinator.Options{LongPoll: time.Millisecond})
	token := s.AddRunner(coordinator.RunnerSpec{RunUntagged: true})
	s.Enqueue(jobspec.Job{}, nil)

	s.FailNext(coordinatortest.EndpointRequest, http.StatusServiceUnavailable, 2)
	var got []int
	for range 3 {
		got = append(got, a.requestJob(token).status)
	}
	if d := cmp.Diff([]int{503, 503, 201}, got); d != "" {
		t.Errorf("job request statuses -want +got:\n%s", d)
	}

	job := runningJob(t, s, a)
	s.FailNext(coordinatortest.EndpointTrace, http.StatusInternalServerError, 1)
	if r := a.patch(job.ID, job.Token, 0, "lost"); r.status != http.StatusInternalServerError {
		t.Errorf("injected trace failure = %d, want 500", r.status)
	}
	if r := a.patch(job.ID, job.Token, 0, "kept"); r.status != http.StatusAccepted {
		t.Errorf("trace after the injected failure = %d, want 202", r.status)
	}
	s.FailNext(coordinatortest.EndpointUpdate, http.StatusAccepted, 1)
	r := a.put(job.ID, job.Token, map[string]any{"state": "success"})
	if r.status != http.StatusAccepted || r.header.Get("X-GitLab-Trace-Update-Interval") == "" {
		t.Errorf("injected 202 on PUT = %d with interval %q, want 202 with an interval", r.status, r.header.Get("X-GitLab-Trace-Update-Interval"))
	}
	rec, _ := s.Job(job.ID)
	if rec.Status != coordinator.StatusRunning || string(rec.Trace) != "kept" {
		t.Errorf("after injected failures: status %q trace %q, want running and kept", rec.Status, rec.Trace)
	}

	s.FailNext(coordinatortest.EndpointVerify, http.StatusBadGateway, 5)
	s.FailNext(coordinatortest.EndpointVerify, 0, 0) // cleared
	if r := a.json(http.MethodPost, "/api/v4/runners/verify", nil, map[string]string{"token": token}); r.status != http.StatusOK {
		t.Errorf("verify after clearing faults = %d, want 200", r.status)
	}
}
