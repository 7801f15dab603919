package gitlab

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPatchTraceRequest(t *testing.T) {
	srv, rec := newServer(t, answer(http.StatusAccepted, "", "Range", "0-15"))
	_, err := newClient(t).PatchTrace(context.Background(), JobCredentials{URL: srv.URL, ID: 42, Token: jobToken}, 10, []byte("hello"))
	if err != nil {
		t.Fatalf("PatchTrace: %v", err)
	}
	got := rec.last(t)
	if got.Method != http.MethodPatch || got.Path != "/api/v4/jobs/42/trace" {
		t.Errorf("request = %s %s, want PATCH /api/v4/jobs/42/trace", got.Method, got.Path)
	}
	for k, v := range map[string]string{"Content-Type": "text/plain", "Content-Range": "10-14", "Job-Token": jobToken, "User-Agent": "kuberunner/1.2.3"} {
		if g := got.Header.Get(k); g != v {
			t.Errorf("header %s = %q, want %q", k, g, v)
		}
	}
	if string(got.Body) != "hello" {
		t.Errorf("body = %q, want raw bytes %q", got.Body, "hello")
	}
}

func TestPatchTraceAnswers(t *testing.T) {
	tests := []struct {
		name    string
		handler func(http.ResponseWriter, *http.Request, []byte)
		want    PatchTraceResult
		wantErr error
	}{
		{
			name:    "accepted with range and interval",
			handler: answer(http.StatusAccepted, "", "Range", "0-15", "Job-Status", "running", "X-GitLab-Trace-Update-Interval", "5"),
			want:    PatchTraceResult{SentOffset: 15, JobStatus: "running", UpdateInterval: 5 * time.Second},
		},
		{
			name:    "accepted without range falls back to offset+len",
			handler: answer(http.StatusAccepted, ""),
			want:    PatchTraceResult{SentOffset: 15},
		},
		{
			name:    "canceled aborts",
			handler: answer(http.StatusAccepted, "", "Range", "0-15", "Job-Status", "canceled"),
			want:    PatchTraceResult{SentOffset: 15, JobStatus: "canceled", Abort: true},
		},
		{
			name:    "failed aborts",
			handler: answer(http.StatusAccepted, "", "Range", "0-15", "Job-Status", "failed"),
			want:    PatchTraceResult{SentOffset: 15, JobStatus: "failed", Abort: true},
		},
		{
			name:    "canceling is graceful, not an abort",
			handler: answer(http.StatusAccepted, "", "Range", "0-15", "Job-Status", "canceling"),
			want:    PatchTraceResult{SentOffset: 15, JobStatus: "canceling"},
		},
		{
			name:    "range mismatch",
			handler: answer(http.StatusRequestedRangeNotSatisfiable, "", "Range", "0-7"),
			want:    PatchTraceResult{SentOffset: 7, RangeMismatch: true},
		},
		{name: "forbidden aborts", handler: answer(http.StatusForbidden, ""), want: PatchTraceResult{Abort: true}},
		{name: "not found aborts", handler: answer(http.StatusNotFound, ""), want: PatchTraceResult{Abort: true}},
		{name: "server error", handler: answer(http.StatusInternalServerError, jobToken), wantErr: ErrTransient},
		{name: "unavailable", handler: answer(http.StatusServiceUnavailable, ""), wantErr: ErrTransient},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := newServer(t, tc.handler)
			got, err := newClient(t).PatchTrace(context.Background(), JobCredentials{URL: srv.URL, ID: 1, Token: jobToken}, 10, []byte("hello"))
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			checkNoSecret(t, err)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("result -want +got:\n%s", d)
			}
			if got.CancelRequested() != (tc.want.JobStatus == "canceling") {
				t.Errorf("CancelRequested() = %v for Job-Status %q", got.CancelRequested(), got.JobStatus)
			}
		})
	}
}

func TestPatchTraceRangeMismatchWithoutRange(t *testing.T) {
	srv, _ := newServer(t, answer(http.StatusRequestedRangeNotSatisfiable, ""))
	_, err := newClient(t).PatchTrace(context.Background(), JobCredentials{URL: srv.URL, ID: 1, Token: jobToken}, 0, []byte("x"))
	if err == nil {
		t.Fatal("416 without Range accepted; the caller could not know where to resume")
	}
}

func TestPatchTraceRefusesOversizedPatch(t *testing.T) {
	srv, rec := newServer(t, answer(http.StatusAccepted, ""))
	c := newClient(t)
	jc := JobCredentials{URL: srv.URL, ID: 1, Token: jobToken}
	_, err := c.PatchTrace(context.Background(), jc, 0, make([]byte, MaxTracePatchSize+1))
	if !errors.Is(err, ErrPatchTooLarge) {
		t.Errorf("err = %v, want ErrPatchTooLarge", err)
	}
	if n := len(rec.all()); n != 0 {
		t.Errorf("server saw %d requests for a refused patch", n)
	}
	res, err := c.PatchTrace(context.Background(), jc, 0, bytes.Repeat([]byte("x"), MaxTracePatchSize))
	if err != nil || res.SentOffset != MaxTracePatchSize {
		t.Errorf("a patch of exactly MaxTracePatchSize: %+v, %v", res, err)
	}
}
