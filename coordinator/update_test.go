package coordinator_test

import (
	"fmt"
	"hash/crc32"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/jobspec"
)

var ignoreAt = cmpopts.IgnoreFields(coordinator.StateUpdate{}, "At")

func TestStateHistory(t *testing.T) {
	s, a := start(t, coordinator.Options{})
	job := runningJob(t, s, a)
	const trace = "hello\n"
	if r := a.patch(job.ID, job.Token, 0, trace); r.status != http.StatusAccepted {
		t.Fatalf("PATCH = %d %s", r.status, r.body)
	}
	checksum := fmt.Sprintf("crc32:%08x", crc32.ChecksumIEEE([]byte(trace)))
	bodies := []map[string]any{
		{"state": "running"}, // keep-alive
		{"state": "success", "exit_code": 0, "output": map[string]any{"checksum": checksum, "bytesize": len(trace)}},
	}
	for _, b := range bodies {
		if r := a.put(job.ID, job.Token, b); r.status != http.StatusOK {
			t.Fatalf("PUT %v = %d %s, want 200", b, r.status, r.body)
		}
	}
	rec, _ := s.Job(job.ID)
	want := []coordinator.StateUpdate{
		{State: "running"},
		{State: "running"},
		{State: "success", ExitCode: intPtr(0), Checksum: checksum, Bytesize: int64(len(trace))},
	}
	if d := cmp.Diff(want, rec.Updates, ignoreAt); d != "" {
		t.Errorf("Updates -want +got:\n%s", d)
	}
	if rec.Status != coordinator.StatusSuccess || rec.ChecksumMismatch || rec.FinishedAt.IsZero() || rec.FailureReason != "" {
		t.Errorf("record: status %q mismatch %v finished %v reason %q, want success, no mismatch, finished, no reason",
			rec.Status, rec.ChecksumMismatch, rec.FinishedAt, rec.FailureReason)
	}
	// A finished job takes no more updates, as GitLab answers for a job no longer running.
	r := a.put(job.ID, job.Token, map[string]any{"state": "failed"})
	if r.status != http.StatusForbidden || r.header.Get("Job-Status") != "success" {
		t.Errorf("PUT after success = %d Job-Status %q, want 403 success", r.status, r.header.Get("Job-Status"))
	}
}

func TestFinalUpdate(t *testing.T) {
	tests := []struct {
		name         string
		body         map[string]any
		wantStatus   string
		wantReason   jobspec.FailureReason
		wantExit     *int
		wantMismatch bool
	}{
		{
			name:       "failure with reason and exit code",
			body:       map[string]any{"state": "failed", "failure_reason": "script_failure", "exit_code": 2},
			wantStatus: coordinator.StatusFailed, wantReason: jobspec.ScriptFailure, wantExit: intPtr(2),
		},
		{
			name:       "failure without reason is unknown_failure",
			body:       map[string]any{"state": "failed"},
			wantStatus: coordinator.StatusFailed, wantReason: jobspec.UnknownFailure,
		},
		{
			name:       "checksum mismatch is recorded, not refused",
			body:       map[string]any{"state": "success", "output": map[string]any{"checksum": "crc32:00000000", "bytesize": 3}},
			wantStatus: coordinator.StatusSuccess, wantMismatch: true,
		},
		{
			name:       "bytesize mismatch is recorded",
			body:       map[string]any{"state": "success", "output": map[string]any{"bytesize": 99}},
			wantStatus: coordinator.StatusSuccess, wantMismatch: true,
		},
		{
			name:       "top-level checksum of older runners",
			body:       map[string]any{"state": "success", "checksum": "crc32:deadbeef"},
			wantStatus: coordinator.StatusSuccess, wantMismatch: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, a := start(t, coordinator.Options{})
			job := runningJob(t, s, a)
			a.patch(job.ID, job.Token, 0, "abc")
			if r := a.put(job.ID, job.Token, tc.body); r.status != http.StatusOK {
				t.Fatalf("PUT = %d %s, want 200", r.status, r.body)
			}
			rec, _ := s.Job(job.ID)
			got := []any{rec.Status, rec.FailureReason, rec.ExitCode, rec.ChecksumMismatch}
			want := []any{tc.wantStatus, tc.wantReason, tc.wantExit, tc.wantMismatch}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("status, reason, exit code, mismatch -want +got:\n%s", d)
			}
		})
	}
}

func TestUpdateRefusals(t *testing.T) {
	s, a := start(t, coordinator.Options{})
	job := runningJob(t, s, a)
	tests := []struct {
		name  string
		id    int64
		token string
		body  map[string]any
		want  int
	}{
		{"wrong token", job.ID, "glcbt-wrong", map[string]any{"state": "running"}, http.StatusForbidden},
		{"no token", job.ID, "", map[string]any{"state": "running"}, http.StatusForbidden},
		{"unknown job", job.ID + 100, job.Token, map[string]any{"state": "running"}, http.StatusNotFound},
		{"unknown state", job.ID, job.Token, map[string]any{"state": "done"}, http.StatusBadRequest},
		{"unknown failure reason", job.ID, job.Token, map[string]any{"state": "failed", "failure_reason": "bad_luck"}, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r := a.put(tc.id, tc.token, tc.body); r.status != tc.want {
				t.Errorf("PUT = %d %s, want %d", r.status, r.body, tc.want)
			}
		})
	}
	// The body's token works like the header.
	r := a.json(http.MethodPut, "/api/v4/jobs/"+itoa(job.ID), nil, map[string]any{"token": job.Token, "state": "running"})
	if r.status != http.StatusOK {
		t.Errorf("PUT with the token in the body = %d %s, want 200", r.status, r.body)
	}
	rec, _ := s.Job(job.ID)
	if rec.Status != coordinator.StatusRunning || len(rec.Updates) != 2 {
		t.Errorf("after refused updates: status %q with %d updates, want running with 2", rec.Status, len(rec.Updates))
	}
}

func TestUpdateAfterCancel(t *testing.T) {
	t.Run("graceful: the final state is accepted and the job ends canceled", func(t *testing.T) {
		s, a := start(t, coordinator.Options{})
		job := runningJob(t, s, a)
		s.Cancel(job.ID, true)
		r := a.put(job.ID, job.Token, map[string]any{"state": "running"})
		if r.status != http.StatusOK || r.header.Get("Job-Status") != "canceling" {
			t.Errorf("keep-alive while canceling = %d Job-Status %q, want 200 canceling", r.status, r.header.Get("Job-Status"))
		}
		if r := a.put(job.ID, job.Token, map[string]any{"state": "failed", "failure_reason": "script_failure", "exit_code": 143}); r.status != http.StatusOK {
			t.Fatalf("final PUT while canceling = %d %s, want 200", r.status, r.body)
		}
		rec, _ := s.Job(job.ID)
		if d := cmp.Diff([]any{"canceled", jobspec.FailureNone, intPtr(143)}, []any{rec.Status, rec.FailureReason, rec.ExitCode}); d != "" {
			t.Errorf("status, reason, exit code -want +got:\n%s", d)
		}
	})
	t.Run("forced: updates are refused", func(t *testing.T) {
		s, a := start(t, coordinator.Options{})
		job := runningJob(t, s, a)
		s.Cancel(job.ID, false)
		r := a.put(job.ID, job.Token, map[string]any{"state": "success"})
		if r.status != http.StatusForbidden || r.header.Get("Job-Status") != "canceled" {
			t.Errorf("PUT after cancel = %d Job-Status %q, want 403 canceled", r.status, r.header.Get("Job-Status"))
		}
		if rec, _ := s.Job(job.ID); rec.Status != coordinator.StatusCanceled || len(rec.Updates) != 1 {
			t.Errorf("record: status %q with %d updates, want canceled with only the running one", rec.Status, len(rec.Updates))
		}
	})
}
