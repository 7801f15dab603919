package coordinator_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/jobspec"
)

func TestTracePatches(t *testing.T) {
	s, a := start(t, coordinator.Options{TraceUpdateInterval: 1500 * time.Millisecond})
	job := runningJob(t, s, a)
	path := "/api/v4/jobs/" + itoa(job.ID) + "/trace"
	withRange := func(v string) map[string]string {
		return map[string]string{"JOB-TOKEN": job.Token, "Content-Range": v}
	}

	// Each step runs against the trace the steps before it left.
	steps := []struct {
		name       string
		header     map[string]string
		body       string
		wantStatus int
		wantRange  string // the Range header; "" when it must be absent
	}{
		{"first patch", withRange("0-5"), "hello\n", http.StatusAccepted, "0-6"},
		{"next patch", withRange("6-11"), "world\n", http.StatusAccepted, "0-12"},
		{"gap", withRange("20-22"), "abc", http.StatusRequestedRangeNotSatisfiable, "0-12"},
		{"overlap", withRange("6-8"), "abc", http.StatusRequestedRangeNotSatisfiable, "0-12"},
		{"missing Content-Range", map[string]string{"JOB-TOKEN": job.Token}, "abc", http.StatusBadRequest, ""},
		{"unit in Content-Range", withRange("bytes 12-14"), "abc", http.StatusBadRequest, ""},
		{"negative start", withRange("-1-1"), "abc", http.StatusBadRequest, ""},
		{"end does not match the body", withRange("12-20"), "abc", http.StatusBadRequest, ""},
		{"wrong token", map[string]string{"JOB-TOKEN": "glcbt-x", "Content-Range": "12-14"}, "abc", http.StatusForbidden, ""},
		{"empty patch", withRange("12-11"), "", http.StatusAccepted, "0-12"},
		{"resume at the length", withRange("12-14"), "end", http.StatusAccepted, "0-15"},
	}
	for _, st := range steps {
		r := a.call(http.MethodPatch, path, st.header, strings.NewReader(st.body))
		if r.status != st.wantStatus || r.header.Get("Range") != st.wantRange {
			t.Errorf("%s: PATCH = %d Range %q (%s), want %d Range %q",
				st.name, r.status, r.header.Get("Range"), r.body, st.wantStatus, st.wantRange)
		}
		if r.status == http.StatusAccepted {
			if got := r.header.Get("Job-Status"); got != "running" {
				t.Errorf("%s: Job-Status = %q, want running", st.name, got)
			}
			if got := r.header.Get("X-GitLab-Trace-Update-Interval"); got != "1" {
				t.Errorf("%s: X-GitLab-Trace-Update-Interval = %q, want whole seconds: 1", st.name, got)
			}
		}
	}
	rec, _ := s.Job(job.ID)
	if d := cmp.Diff("hello\nworld\nend", string(rec.Trace)); d != "" {
		t.Errorf("trace -want +got:\n%s", d)
	}
	if r := a.patch(job.ID+100, job.Token, 0, "x"); r.status != http.StatusNotFound {
		t.Errorf("PATCH unknown job = %d, want 404", r.status)
	}
}

func TestTraceAfterCancel(t *testing.T) {
	s, a := start(t, coordinator.Options{})
	job := runningJob(t, s, a)
	a.patch(job.ID, job.Token, 0, "one\n")

	s.Cancel(job.ID, true)
	r := a.patch(job.ID, job.Token, 4, "two\n")
	if r.status != http.StatusAccepted || r.header.Get("Job-Status") != "canceling" {
		t.Errorf("PATCH while canceling = %d Job-Status %q, want 202 canceling", r.status, r.header.Get("Job-Status"))
	}

	s.Cancel(job.ID, false)
	r = a.patch(job.ID, job.Token, 8, "three\n")
	if r.status != http.StatusForbidden || r.header.Get("Job-Status") != "canceled" {
		t.Errorf("PATCH after cancel = %d Job-Status %q, want 403 canceled", r.status, r.header.Get("Job-Status"))
	}
	rec, _ := s.Job(job.ID)
	if d := cmp.Diff("one\ntwo\n", string(rec.Trace)); d != "" {
		t.Errorf("trace -want +got:\n%s", d)
	}
}

func TestTraceOfFinishedOrUnconfirmedJob(t *testing.T) {
	s, a := start(t, coordinator.Options{})
	token := s.AddRunner(coordinator.RunnerSpec{RunUntagged: true})
	s.Enqueue(jobspec.Job{}, nil)
	job := a.takeJob(token)
	if r := a.patch(job.ID, job.Token, 0, "x"); r.status != http.StatusForbidden || r.header.Get("Job-Status") != "pending" {
		t.Errorf("PATCH before PUT running = %d Job-Status %q, want 403 pending", r.status, r.header.Get("Job-Status"))
	}
	a.put(job.ID, job.Token, map[string]any{"state": "running"})
	a.put(job.ID, job.Token, map[string]any{"state": "success"})
	if r := a.patch(job.ID, job.Token, 0, "x"); r.status != http.StatusForbidden || r.header.Get("Job-Status") != "success" {
		t.Errorf("PATCH after success = %d Job-Status %q, want 403 success", r.status, r.header.Get("Job-Status"))
	}
}

func TestTraceSizeLimitFailsTheJob(t *testing.T) {
	s, a := start(t, coordinator.Options{MaxTraceSize: 8})
	job := runningJob(t, s, a)
	if r := a.patch(job.ID, job.Token, 0, "12345"); r.status != http.StatusAccepted {
		t.Fatalf("PATCH within the limit = %d %s", r.status, r.body)
	}
	if r := a.patch(job.ID, job.Token, 5, "6789"); r.status != http.StatusForbidden {
		t.Errorf("PATCH past the limit = %d %s, want 403", r.status, r.body)
	}
	rec, _ := s.Job(job.ID)
	got := []any{rec.Status, rec.FailureReason, string(rec.Trace)}
	if d := cmp.Diff([]any{"failed", jobspec.FailureReason("trace_size_exceeded"), "12345"}, got); d != "" {
		t.Errorf("status, reason, trace -want +got:\n%s", d)
	}
}
