package gitlab

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kuberunner/kuberunner/jobspec"
)

func TestRequestJobSendsRunnerInfo(t *testing.T) {
	srv, rec := newServer(t, answer(http.StatusNoContent, ""))
	c := newClient(t)
	rc := RunnerCredentials{URL: srv.URL, Token: runnerToken, SystemID: "s_0123456789ab"}
	if _, _, err := c.RequestJob(context.Background(), rc, "lu-1"); err != nil {
		t.Fatalf("RequestJob: %v", err)
	}
	got := rec.last(t)
	if got.Method != http.MethodPost || got.Path != "/api/v4/jobs/request" {
		t.Errorf("request = %s %s, want POST /api/v4/jobs/request", got.Method, got.Path)
	}
	wantHeaders := map[string]string{
		"User-Agent": "kuberunner/1.2.3", "Accept": "application/json",
		"Content-Type": "application/json", "Runner-Token": runnerToken,
	}
	for k, v := range wantHeaders {
		if g := got.Header.Get(k); g != v {
			t.Errorf("header %s = %q, want %q", k, g, v)
		}
	}
	var body jobRequestBody
	if err := json.Unmarshal(got.Body, &body); err != nil {
		t.Fatalf("decode body: %v", err)
	}
	want := jobRequestBody{
		Token: runnerToken, SystemID: "s_0123456789ab", LastUpdate: "lu-1",
		Info: runnerInfo{
			Name: "kuberunner", Version: "1.2.3", Revision: "abc123", Platform: runtime.GOOS,
			Architecture: runtime.GOARCH, Executor: "kubernetes", Shell: "bash", Features: DefaultFeatures(),
		},
	}
	if d := cmp.Diff(want, body); d != "" {
		t.Errorf("body -want +got:\n%s", d)
	}
	// The wire names are GitLab's: check a few against the raw JSON.
	features := decodeJSON(t, got.Body)["info"].(map[string]any)["features"].(map[string]any)
	for _, name := range []string{"two_phase_job_commit", "cancel_gracefully", "upload_raw_artifacts", "trace_checksum"} {
		if features[name] != true {
			t.Errorf("info.features.%s = %v, want true", name, features[name])
		}
	}
}

func TestRequestJobStatuses(t *testing.T) {
	const payload = `{"id":42,"token":"` + jobToken + `","job_info":{"name":"build","project_id":7},
		"steps":[{"name":"script","script":["true"],"timeout":3600,"when":"on_success"}],
		"variables":[{"key":"A","value":"1","public":true}],"unknown_future_field":{"x":1}}`
	tests := []struct {
		name       string
		handler    func(http.ResponseWriter, *http.Request, []byte)
		wantJob    *jobspec.Job
		wantUpdate string
		wantErr    error
	}{
		{
			name:    "201 job",
			handler: answer(http.StatusCreated, payload),
			wantJob: &jobspec.Job{
				ID: 42, Token: jobToken, JobInfo: jobspec.JobInfo{Name: "build", ProjectID: 7},
				Steps:     []jobspec.Step{{Name: "script", Script: []string{"true"}, Timeout: 3600, When: "on_success"}},
				Variables: jobspec.Variables{{Key: "A", Value: "1", Public: true}},
			},
		},
		{name: "204 no job", handler: answer(http.StatusNoContent, "", "X-GitLab-Last-Update", "abc"), wantUpdate: "abc"},
		{name: "403", handler: answer(http.StatusForbidden, `{"message":"403 Forbidden"}`), wantErr: ErrForbidden},
		{name: "401", handler: answer(http.StatusUnauthorized, ""), wantErr: ErrForbidden},
		{name: "409", handler: answer(http.StatusConflict, ""), wantErr: ErrConflict},
		{name: "503", handler: answer(http.StatusServiceUnavailable, "busy"), wantErr: ErrTransient},
		{name: "500", handler: answer(http.StatusInternalServerError, ""), wantErr: ErrTransient},
		{name: "429", handler: answer(http.StatusTooManyRequests, ""), wantErr: ErrTransient},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, rec := newServer(t, tc.handler)
			c := newClient(t)
			job, update, err := c.RequestJob(context.Background(), RunnerCredentials{URL: srv.URL, Token: runnerToken}, "")
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			checkNoSecret(t, err)
			if d := cmp.Diff(tc.wantJob, job); d != "" {
				t.Errorf("job -want +got:\n%s", d)
			}
			if update != tc.wantUpdate {
				t.Errorf("last update = %q, want %q", update, tc.wantUpdate)
			}
			if n := len(rec.all()); n != 1 {
				t.Errorf("server saw %d requests, want 1 (no retries inside RequestJob)", n)
			}
		})
	}
}

func TestRequestJobUnexpectedStatusIsNotTransient(t *testing.T) {
	srv, _ := newServer(t, answer(http.StatusBadRequest, `{"error":"token is `+runnerToken+`"}`))
	_, _, err := newClient(t).RequestJob(context.Background(), RunnerCredentials{URL: srv.URL, Token: runnerToken}, "")
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusBadRequest {
		t.Fatalf("err = %v, want a *StatusError with code 400", err)
	}
	if errors.Is(err, ErrTransient) {
		t.Errorf("400 matched ErrTransient")
	}
	checkNoSecret(t, err)
}

func TestRequestJobOddPayloads(t *testing.T) {
	tests := []struct {
		name      string
		payload   string
		wantField string
		wantJobID int64 // 0: no credentials recoverable
	}{
		{"id of wrong type", `{"id":"x","token":"t"}`, "id", 0},
		{"nested wrong type", `{"id":9,"token":"` + jobToken + `","job_info":{"project_id":"abc"}}`, "job_info.project_id", 9},
		{"steps not an array", `{"id":9,"token":"t","steps":{}}`, "steps", 9},
		{"step script not strings", `{"id":9,"token":"t","steps":[{"script":[1]}]}`, "steps.script", 9},
		{"protected not bool", `{"id":9,"token":"t","git_info":{"protected":"yes"}}`, "git_info.protected", 9},
		{"missing id", `{"token":"t"}`, "id", 0},
		{"missing token", `{"id":3}`, "token", 0},
		{"array", `[]`, "", 0},
		{"null", `null`, "id", 0},
		{"not JSON", `<html>proxy error</html>`, "", 0},
		{"truncated", `{"id":9,"token":"t","steps":[`, "", 0},
		{"empty", ``, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := newServer(t, answer(http.StatusCreated, tc.payload))
			job, _, err := newClient(t).RequestJob(context.Background(), RunnerCredentials{URL: srv.URL, Token: runnerToken}, "")
			if job != nil {
				t.Errorf("job = %+v, want nil", job)
			}
			var pe *PayloadError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *PayloadError", err)
			}
			if pe.Field != tc.wantField {
				t.Errorf("field = %q, want %q (err: %v)", pe.Field, tc.wantField, err)
			}
			var gotID int64
			if pe.Job != nil {
				gotID = pe.Job.ID
				if pe.Job.URL != srv.URL || pe.Job.Token == "" {
					t.Errorf("recovered credentials = %+v, want URL %s and a token", pe.Job, srv.URL)
				}
			}
			t.Logf("error: %v", err)
			if gotID != tc.wantJobID {
				t.Errorf("recovered job id = %d, want %d", gotID, tc.wantJobID)
			}
			checkNoSecret(t, err)
		})
	}
}

func TestRequestJobConnectionErrors(t *testing.T) {
	c := newClient(t)
	_, _, err := c.RequestJob(context.Background(), RunnerCredentials{URL: closedURL(t), Token: runnerToken}, "")
	if !errors.Is(err, ErrTransient) {
		t.Errorf("refused connection: err = %v, want ErrTransient", err)
	}
	checkNoSecret(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	srv, _ := newServer(t, answer(http.StatusNoContent, ""))
	_, _, err = c.RequestJob(ctx, RunnerCredentials{URL: srv.URL, Token: runnerToken}, "")
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTransient) {
		t.Errorf("cancelled context: err = %v, want context.Canceled and not ErrTransient", err)
	}

	_, _, err = c.RequestJob(context.Background(), RunnerCredentials{URL: "gitlab.example.com", Token: runnerToken}, "")
	if err == nil {
		t.Errorf("URL without scheme accepted")
	}
}

func TestUpdateJobBody(t *testing.T) {
	srv, rec := newServer(t, answer(http.StatusOK, ""))
	exit := 3
	req := UpdateJobRequest{State: StateFailed, FailureReason: jobspec.ScriptFailure, ExitCode: &exit, Checksum: "crc32:0000abcd", Bytesize: 1234}
	res, err := newClient(t).UpdateJob(context.Background(), JobCredentials{URL: srv.URL + "/", ID: 42, Token: jobToken}, req)
	if err != nil || res != UpdateAccepted {
		t.Fatalf("UpdateJob = %v, %v; want UpdateAccepted", res, err)
	}
	got := rec.last(t)
	if got.Method != http.MethodPut || got.Path != "/api/v4/jobs/42" {
		t.Errorf("request = %s %s, want PUT /api/v4/jobs/42", got.Method, got.Path)
	}
	if got.Header.Get("Job-Token") != jobToken || got.Header.Get("Accept") != "application/json" {
		t.Errorf("headers = %v, want JOB-TOKEN and Accept: application/json", got.Header)
	}
	want := map[string]any{
		"token": jobToken, "state": "failed", "failure_reason": "script_failure", "exit_code": 3.0,
		"output": map[string]any{"checksum": "crc32:0000abcd", "bytesize": 1234.0},
	}
	if d := cmp.Diff(want, decodeJSON(t, got.Body)); d != "" {
		t.Errorf("body -want +got:\n%s", d)
	}

	// A keep-alive "running" carries no reason, exit code or output.
	if _, err := newClient(t).UpdateJob(context.Background(), JobCredentials{URL: srv.URL, ID: 42, Token: jobToken}, UpdateJobRequest{State: StateRunning}); err != nil {
		t.Fatalf("UpdateJob running: %v", err)
	}
	if d := cmp.Diff(map[string]any{"token": jobToken, "state": "running"}, decodeJSON(t, rec.last(t).Body)); d != "" {
		t.Errorf("running body -want +got:\n%s", d)
	}
}

func TestUpdateJobStatuses(t *testing.T) {
	tests := []struct {
		status  int
		want    UpdateJobResult
		wantErr error
	}{
		{http.StatusOK, UpdateAccepted, nil},
		{http.StatusAccepted, UpdateTraceNotYet, nil},
		{http.StatusForbidden, UpdateAbort, nil},
		{http.StatusNotFound, UpdateAbort, nil},
		{http.StatusConflict, UpdateConflict, nil},
		{http.StatusInternalServerError, 0, ErrTransient},
		{http.StatusBadGateway, 0, ErrTransient},
		{http.StatusServiceUnavailable, 0, ErrTransient},
	}
	for _, tc := range tests {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			srv, _ := newServer(t, answer(tc.status, "echo "+jobToken))
			got, err := newClient(t).UpdateJob(context.Background(), JobCredentials{URL: srv.URL, ID: 1, Token: jobToken}, UpdateJobRequest{State: StateSuccess})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			checkNoSecret(t, err)
			if got != tc.want {
				t.Errorf("result = %v, want %v", got, tc.want)
			}
		})
	}

	_, err := newClient(t).UpdateJob(context.Background(), JobCredentials{URL: closedURL(t), ID: 1, Token: jobToken}, UpdateJobRequest{State: StateSuccess})
	if !errors.Is(err, ErrTransient) {
		t.Errorf("refused connection: err = %v, want ErrTransient", err)
	}
	checkNoSecret(t, err)
}

func TestUpdateJobReadsJobStatusOnKeepAlive(t *testing.T) {
	tests := []struct {
		sent      JobState
		jobStatus string
		want      UpdateJobResult
	}{
		{StateRunning, "running", UpdateAccepted},
		{StateRunning, "canceling", UpdateCancelRequested},
		{StateRunning, "canceled", UpdateAbort},
		{StateRunning, "failed", UpdateAbort},
		// After a final update the status is the runner's own report, not a cancel.
		{StateFailed, "failed", UpdateAccepted},
		{StateSuccess, "canceling", UpdateAccepted},
	}
	for _, tc := range tests {
		t.Run(string(tc.sent)+"/"+tc.jobStatus, func(t *testing.T) {
			srv, _ := newServer(t, answer(http.StatusOK, "", "Job-Status", tc.jobStatus))
			got, err := newClient(t).UpdateJob(context.Background(), JobCredentials{URL: srv.URL, ID: 1, Token: jobToken}, UpdateJobRequest{State: tc.sent})
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("result = %v, want %v", got, tc.want)
			}
		})
	}
}
