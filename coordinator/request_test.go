package coordinator_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/coordinator/coordinatortest"
	"github.com/kuberunner/kuberunner/jobspec"
)

func TestTagMatching(t *testing.T) {
	tests := []struct {
		name    string
		runner  coordinator.RunnerSpec
		jobTags []string
		want    int
	}{
		{"untagged job, run_untagged", coordinator.RunnerSpec{RunUntagged: true}, nil, http.StatusCreated},
		{"untagged job, tagged runner without run_untagged", coordinator.RunnerSpec{Tags: []string{"a"}}, nil, http.StatusNoContent},
		{"job tags a subset", coordinator.RunnerSpec{Tags: []string{"a", "b", "c"}}, []string{"c", "a"}, http.StatusCreated},
		{"job tags equal", coordinator.RunnerSpec{Tags: []string{"a"}}, []string{"a"}, http.StatusCreated},
		{"one job tag missing", coordinator.RunnerSpec{Tags: []string{"a"}, RunUntagged: true}, []string{"a", "gpu"}, http.StatusNoContent},
		{"tagged job, untagged runner", coordinator.RunnerSpec{RunUntagged: true}, []string{"a"}, http.StatusNoContent},
		{"tags are case sensitive", coordinator.RunnerSpec{Tags: []string{"A"}}, []string{"a"}, http.StatusNoContent},
		{"paused runner", coordinator.RunnerSpec{RunUntagged: true, Paused: true}, nil, http.StatusNoContent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, a := start(t, coordinator.Options{LongPoll: time.Millisecond})
			token := s.AddRunner(tc.runner)
			id := s.Enqueue(jobspec.Job{}, tc.jobTags)

			r := a.requestJob(token)
			if r.status != tc.want {
				t.Fatalf("POST /jobs/request = %d %s, want %d", r.status, r.body, tc.want)
			}
			rec, _ := s.Job(id)
			if tc.want == http.StatusNoContent {
				if r.header.Get("X-GitLab-Last-Update") == "" {
					t.Error("204 without X-GitLab-Last-Update")
				}
				if rec.RunnerID != 0 || rec.Status != coordinator.StatusPending {
					t.Errorf("unmatched job: runner %d status %q, want 0 pending", rec.RunnerID, rec.Status)
				}
				return
			}
			var job jobspec.Job
			if err := json.Unmarshal(r.body, &job); err != nil {
				t.Fatalf("decode job: %v", err)
			}
			if job.ID != id || job.Token == "" {
				t.Errorf("got job %d with token set %v, want job %d with a token", job.ID, job.Token != "", id)
			}
			if rec.RunnerID != s.Runners()[0].ID || rec.Status != coordinator.StatusPending {
				t.Errorf("handed-out job: runner %d status %q, want %d pending until confirmed", rec.RunnerID, rec.Status, s.Runners()[0].ID)
			}
		})
	}
}

func TestRequestAnswersAsSoonAsAJobIsEnqueued(t *testing.T) {
	// The long poll is far longer than the test deadline: only the enqueue can end the wait.
	s, a := start(t, coordinator.Options{LongPoll: time.Hour})
	token := s.AddRunner(coordinator.RunnerSpec{Tags: []string{"k8s"}})

	got := make(chan reply, 1)
	go func() { got <- a.requestJob(token) }()
	ctx := testContext(t)
	waitParked(t, ctx, s)
	// A job this runner cannot take must not end its wait.
	s.Enqueue(jobspec.Job{}, []string{"gpu"})
	id := s.Enqueue(jobspec.Job{}, []string{"k8s"})

	select {
	case r := <-got:
		if r.status != http.StatusCreated {
			t.Fatalf("POST /jobs/request = %d %s, want 201", r.status, r.body)
		}
		var job jobspec.Job
		if err := json.Unmarshal(r.body, &job); err != nil {
			t.Fatalf("decode job: %v", err)
		}
		if job.ID != id {
			t.Errorf("got job %d, want %d", job.ID, id)
		}
	case <-ctx.Done():
		t.Fatal("the parked request did not answer after Enqueue")
	}
}

func TestRequestEndsWhenTheRunnerLeaves(t *testing.T) {
	s, a := start(t, coordinator.Options{LongPoll: time.Hour})
	token := s.AddRunner(coordinator.RunnerSpec{RunUntagged: true})

	reqCtx, leave := context.WithCancel(context.Background())
	defer leave()
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, a.base+"/api/v4/jobs/request",
		strings.NewReader(`{"token":"`+token+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	ctx := testContext(t)
	waitParked(t, ctx, s)
	leave()
	// The handler returns without a job: WaitingRequests drops back, and a job enqueued
	// afterwards is still queued, not handed to the runner that left.
	waitUntil(t, ctx, "the request to stop waiting", func() bool { return s.WaitingRequests() == 0 })
	id := s.Enqueue(jobspec.Job{}, nil)
	if rec, _ := s.Job(id); rec.RunnerID != 0 {
		t.Errorf("job handed to runner %d after its request ended", rec.RunnerID)
	}
}

func TestRequestAuthentication(t *testing.T) {
	s, a := start(t, coordinator.Options{LongPoll: time.Millisecond})
	token := s.AddRunner(coordinator.RunnerSpec{RunUntagged: true})
	if r := a.requestJob("glrt-unknown"); r.status != http.StatusForbidden {
		t.Errorf("unknown token = %d, want 403", r.status)
	}
	if r := a.requestJob(""); r.status != http.StatusForbidden {
		t.Errorf("no token = %d, want 403", r.status)
	}
	// The RUNNER-TOKEN header stands in for the body's token.
	r := a.json(http.MethodPost, "/api/v4/jobs/request", map[string]string{"RUNNER-TOKEN": token}, map[string]any{})
	if r.status != http.StatusNoContent {
		t.Errorf("header token = %d %s, want 204", r.status, r.body)
	}
}

func TestPausedRunnerAnswersAtOnce(t *testing.T) {
	// With an hour of long poll, only the paused check can answer within the test deadline.
	s, a := start(t, coordinator.Options{LongPoll: time.Hour})
	token := s.AddRunner(coordinator.RunnerSpec{RunUntagged: true, Paused: true})
	s.Enqueue(jobspec.Job{}, nil)
	r := a.requestJob(token)
	if r.status != http.StatusNoContent || r.header.Get("X-GitLab-Last-Update") == "" {
		t.Errorf("paused runner = %d with X-GitLab-Last-Update %q, want 204 with a value", r.status, r.header.Get("X-GitLab-Last-Update"))
	}
}

func TestHandedOutJob(t *testing.T) {
	s, a := start(t, coordinator.Options{})
	token := s.AddRunner(coordinator.RunnerSpec{RunUntagged: true, MaximumTimeout: 600})
	dep := s.Enqueue(jobspec.Job{JobInfo: jobspec.JobInfo{Name: "compile"}}, []string{"other"})
	long := s.Enqueue(jobspec.Job{
		RunnerInfo:   jobspec.RunnerInfo{Timeout: 7200},
		Dependencies: []jobspec.Dependency{{ID: dep}},
	}, nil)
	short := s.Enqueue(jobspec.Job{RunnerInfo: jobspec.RunnerInfo{Timeout: 60}}, nil)
	defaults := s.Enqueue(jobspec.Job{}, nil)
	depRec, _ := s.Job(dep)

	// Oldest first; the runner's maximum caps longer timeouts only.
	got := []jobspec.Job{a.takeJob(token), a.takeJob(token), a.takeJob(token)}
	if d := cmp.Diff([]int64{long, short, defaults}, []int64{got[0].ID, got[1].ID, got[2].ID}); d != "" {
		t.Errorf("order of jobs -want +got:\n%s", d)
	}
	if d := cmp.Diff([]int{600, 60, 600}, []int{got[0].RunnerInfo.Timeout, got[1].RunnerInfo.Timeout, got[2].RunnerInfo.Timeout}); d != "" {
		t.Errorf("timeouts -want +got:\n%s", d)
	}
	wantDeps := []jobspec.Dependency{{ID: dep, Token: depRec.Job.Token, Name: "compile"}}
	if d := cmp.Diff(wantDeps, got[0].Dependencies); d != "" {
		t.Errorf("dependencies -want +got:\n%s", d)
	}
	if d := cmp.Diff(coordinator.KnownFailureReasons(), got[1].Features.FailureReasons); d != "" {
		t.Errorf("failure reasons -want +got:\n%s", d)
	}
	rec, _ := s.Job(long)
	if d := cmp.Diff(got[0], rec.Job); d != "" {
		t.Errorf("record's job differs from the one handed out -want +got:\n%s", d)
	}
}

func TestTwoPhaseCommit(t *testing.T) {
	s, a := start(t, coordinator.Options{})
	owner := s.AddRunner(coordinator.RunnerSpec{RunUntagged: true})
	other := s.AddRunner(coordinator.RunnerSpec{RunUntagged: true})
	queued := s.Enqueue(jobspec.Job{Token: "queued-token"}, []string{"nobody"})
	s.Enqueue(jobspec.Job{}, nil)
	job := a.takeJob(owner)

	running := map[string]any{"state": "running"}
	put := func(runnerToken string) reply {
		return a.json(http.MethodPut, "/api/v4/jobs/"+itoa(job.ID),
			map[string]string{"JOB-TOKEN": job.Token, "RUNNER-TOKEN": runnerToken}, running)
	}
	if r := put(other); r.status != http.StatusConflict {
		t.Errorf("PUT running from another runner = %d %s, want 409", r.status, r.body)
	}
	if r := a.put(queued, "queued-token", running); r.status != http.StatusConflict {
		t.Errorf("PUT running for a job never handed out = %d %s, want 409", r.status, r.body)
	}
	if r := a.put(job.ID, job.Token, map[string]any{"state": "pending"}); r.status != http.StatusOK {
		t.Errorf("PUT pending (keep-alive while preparing) = %d %s, want 200", r.status, r.body)
	}
	if rec, _ := s.Job(job.ID); rec.Status != coordinator.StatusPending {
		t.Errorf("status before the runner confirmed = %q, want pending", rec.Status)
	}
	if r := put(owner); r.status != http.StatusOK || r.header.Get("Job-Status") != "running" {
		t.Errorf("PUT running from the owner = %d Job-Status %q, want 200 running", r.status, r.header.Get("Job-Status"))
	}
	rec, _ := s.Job(job.ID)
	if rec.Status != coordinator.StatusRunning || rec.StartedAt.IsZero() {
		t.Errorf("after confirmation: status %q started %v, want running with a start time", rec.Status, rec.StartedAt)
	}
}

func TestRunnerWithoutTwoPhaseCommitGetsARunningJob(t *testing.T) {
	s, a := start(t, coordinator.Options{})
	token := s.AddRunner(coordinator.RunnerSpec{RunUntagged: true})
	id := s.Enqueue(jobspec.Job{}, nil)
	if r := a.json(http.MethodPost, "/api/v4/jobs/request", nil, map[string]string{"token": token}); r.status != http.StatusCreated {
		t.Fatalf("POST /jobs/request = %d %s, want 201", r.status, r.body)
	}
	if rec, _ := s.Job(id); rec.Status != coordinator.StatusRunning {
		t.Errorf("status = %q, want running at once for a runner without two_phase_job_commit", rec.Status)
	}
}

// waitUntil waits for cond, which reads server state the coordinator does not signal on.
func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// waitParked waits until the only runner's job request is parked in its long poll: the
// request is at the coordinator and has looked at the queue, which contacts the runner.
func waitParked(t *testing.T, ctx context.Context, s *coordinatortest.Server) {
	t.Helper()
	if err := s.WaitRequests(ctx, 1); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, ctx, "the job request to park", func() bool { return !s.Runners()[0].ContactedAt.IsZero() })
}
