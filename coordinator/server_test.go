package coordinator_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/coordinator/coordinatortest"
	"github.com/kuberunner/kuberunner/jobspec"
)

func TestNewRefusesNegativeOptions(t *testing.T) {
	for _, opts := range []coordinator.Options{
		{LongPoll: -time.Second},
		{TraceUpdateInterval: -time.Second},
		{MaxArtifactSize: -1},
		{MaxTraceSize: -1},
	} {
		if s, err := coordinator.New(opts); err == nil {
			s.Close()
			t.Errorf("New(%+v) accepted a negative option", opts)
		}
	}
}

func TestCloseRemovesItsOwnArtifactsDir(t *testing.T) {
	s, a := start(t, coordinator.Options{})
	job := runningJob(t, s, a)
	a.upload(job.ID, job.Token, "", "a.zip", strings.NewReader("x"))
	rec, _ := s.Job(job.ID)
	dir := filepath.Dir(rec.Artifacts[0].Path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("artifacts dir %s after Close: %v, want it gone", dir, err)
	}
}

func TestEnqueueIDs(t *testing.T) {
	s, _ := start(t, coordinator.Options{})
	got := []int64{
		s.Enqueue(jobspec.Job{}, nil),
		s.Enqueue(jobspec.Job{ID: 10, Token: "given"}, nil),
		s.Enqueue(jobspec.Job{}, nil),
	}
	if d := cmp.Diff([]int64{1, 10, 11}, got); d != "" {
		t.Errorf("IDs -want +got:\n%s", d)
	}
	if rec, _ := s.Job(10); rec.Job.Token != "given" || rec.Job.RunnerInfo.Timeout != coordinator.DefaultJobTimeout {
		t.Errorf("job 10: token %q timeout %d, want the given token and the default timeout", rec.Job.Token, rec.Job.RunnerInfo.Timeout)
	}
	if rec, _ := s.Job(1); !strings.HasPrefix(rec.Job.Token, "glcbt-") {
		t.Errorf("assigned job token %q lacks the glcbt- prefix", rec.Job.Token)
	}
	defer func() {
		if recover() == nil {
			t.Error("Enqueue of a known ID did not panic")
		}
	}()
	s.Enqueue(jobspec.Job{ID: 10}, nil)
}

func TestJobReturnsACopy(t *testing.T) {
	s, _ := start(t, coordinator.Options{})
	id := s.Enqueue(jobspec.Job{Steps: []jobspec.Step{{Name: jobspec.StepScript, Script: []string{"true"}}}}, []string{"a"})
	rec, _ := s.Job(id)
	rec.Job.Steps[0].Script[0] = "false"
	rec.Tags[0] = "b"
	again, _ := s.Job(id)
	if again.Job.Steps[0].Script[0] != "true" || again.Tags[0] != "a" {
		t.Error("changing a returned record changed the server's")
	}
	if _, ok := s.Job(id + 1); ok {
		t.Error("Job of an unknown ID reported ok")
	}
}

func TestCancelPendingJob(t *testing.T) {
	s, a := start(t, coordinator.Options{LongPoll: time.Millisecond})
	token := s.AddRunner(coordinator.RunnerSpec{RunUntagged: true})
	id := s.Enqueue(jobspec.Job{}, nil)
	s.Cancel(id, true)
	if rec, _ := s.Job(id); rec.Status != coordinator.StatusCanceled {
		t.Errorf("canceled pending job has status %q", rec.Status)
	}
	if r := a.requestJob(token); r.status != http.StatusNoContent {
		t.Errorf("job request after the only job was canceled = %d, want 204", r.status)
	}
}

func TestOnChange(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	var appended []string
	var s *coordinatortest.Server
	s, a := start(t, coordinator.Options{OnChange: func(rec coordinator.Change) {
		mu.Lock()
		seen = append(seen, rec.Job.JobInfo.Name+":"+rec.Status)
		if rec.Trace != nil {
			t.Errorf("a change carries the whole trace (%d bytes)", len(rec.Trace))
		}
		if len(rec.Appended) > 0 {
			appended = append(appended, fmt.Sprintf("%d:%s", rec.TraceOffset, rec.Appended))
		}
		mu.Unlock()
		// A pipeline enqueues the next stage from here: calling back must not deadlock.
		if rec.Job.JobInfo.Name == "build" && rec.Status == coordinator.StatusSuccess {
			s.Enqueue(jobspec.Job{JobInfo: jobspec.JobInfo{Name: "deploy"}}, nil)
		}
	}})
	job := runningJob(t, s, a)
	a.patch(job.ID, job.Token, 0, "x")
	a.patch(job.ID, job.Token, 1, "yz")
	a.put(job.ID, job.Token, map[string]any{"state": "success"})

	want := []string{"build:pending", "build:pending", "build:running", "build:running", "build:running", "build:success", "deploy:pending"}
	mu.Lock()
	defer mu.Unlock()
	if d := cmp.Diff(want, seen); d != "" {
		t.Errorf("OnChange calls -want +got:\n%s", d)
	}
	// Only what each patch added, each byte once, at its offset.
	if d := cmp.Diff([]string{"0:x", "1:yz"}, appended); d != "" {
		t.Errorf("appended trace -want +got:\n%s", d)
	}
}
