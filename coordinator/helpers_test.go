package coordinator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/coordinator/coordinatortest"
	"github.com/kuberunner/kuberunner/jobspec"
)

// testDeadline bounds every wait in these tests; reaching it is a failure, not a timing target.
const testDeadline = 30 * time.Second

// api calls the coordinator over HTTP, as a runner would, with net/http only.
type api struct {
	t    *testing.T
	base string
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func start(t *testing.T, opts coordinator.Options) (*coordinatortest.Server, api) {
	t.Helper()
	s, base := coordinatortest.Start(t, opts)
	return s, api{t: t, base: base}
}

// call sends one request; header values are set as given.
func (a api) call(method, path string, header map[string]string, body io.Reader) reply {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("%s %s: read answer: %v", method, path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// json sends v as a JSON body.
func (a api) json(method, path string, header map[string]string, v any) reply {
	a.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		a.t.Fatalf("marshal %T: %v", v, err)
	}
	h := map[string]string{"Content-Type": "application/json", "Accept": "application/json"}
	for k, v := range header {
		h[k] = v
	}
	return a.call(method, path, h, bytes.NewReader(b))
}

// requestJob asks for a job as a two-phase-commit runner does.
func (a api) requestJob(token string) reply {
	a.t.Helper()
	return a.json(http.MethodPost, "/api/v4/jobs/request", nil, map[string]any{
		"token":     token,
		"system_id": "s_0123456789ab",
		"info":      map[string]any{"features": map[string]bool{"two_phase_job_commit": true}},
	})
}

// takeJob requests a job, expects one and decodes it.
func (a api) takeJob(token string) jobspec.Job {
	a.t.Helper()
	r := a.requestJob(token)
	if r.status != http.StatusCreated {
		a.t.Fatalf("POST /jobs/request = %d %s, want 201", r.status, r.body)
	}
	var job jobspec.Job
	if err := json.Unmarshal(r.body, &job); err != nil {
		a.t.Fatalf("decode job: %v", err)
	}
	return job
}

func (a api) put(id int64, token string, body map[string]any) reply {
	a.t.Helper()
	return a.json(http.MethodPut, fmt.Sprintf("/api/v4/jobs/%d", id), map[string]string{"JOB-TOKEN": token}, body)
}

// patch sends data at offset with the Content-Range a runner sends.
func (a api) patch(id int64, token string, offset int, data string) reply {
	a.t.Helper()
	return a.call(http.MethodPatch, fmt.Sprintf("/api/v4/jobs/%d/trace", id), map[string]string{
		"JOB-TOKEN":     token,
		"Content-Type":  "text/plain",
		"Content-Range": fmt.Sprintf("%d-%d", offset, offset+len(data)-1),
	}, bytes.NewReader([]byte(data)))
}

// runningJob enqueues an untagged job, takes it with a fresh runner and confirms it.
func runningJob(t *testing.T, s *coordinatortest.Server, a api) jobspec.Job {
	t.Helper()
	token := s.AddRunner(coordinator.RunnerSpec{RunUntagged: true})
	s.Enqueue(jobspec.Job{JobInfo: jobspec.JobInfo{Name: "build"}}, nil)
	job := a.takeJob(token)
	if r := a.put(job.ID, job.Token, map[string]any{"state": "running"}); r.status != http.StatusOK {
		t.Fatalf("PUT running = %d %s, want 200", r.status, r.body)
	}
	return job
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	t.Cleanup(cancel)
	return ctx
}

func intPtr(v int) *int { return &v }

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
