package coordinator

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/kuberunner/kuberunner/jobspec"
)

// DefaultJobTimeout is GitLab's default project timeout, given to jobs enqueued without one.
const DefaultJobTimeout = 3600

// RunnerSpec describes a runner created as GitLab's UI creates one.
type RunnerSpec struct {
	Description    string
	Tags           []string
	RunUntagged    bool
	Locked         bool // recorded only: there are no projects to lock a runner to
	Paused         bool // a paused runner's job requests answer 204 at once
	MaximumTimeout int  // seconds; caps runner_info.timeout of the jobs it takes; 0 = no cap
}

// AddRunner creates a runner as GitLab's UI does and returns its glrt- authentication token.
func (s *Server) AddRunner(spec RunnerSpec) string {
	token := newToken(runnerTokenPrefix)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.addRunner(spec, token, s.tokenExpiry(time.Now()))
	return token
}

// Runners returns a copy of every registered runner, by ID.
func (s *Server) Runners() []RunnerRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RunnerRecord, 0, len(s.state.runners))
	for _, rr := range s.state.runners {
		out = append(out, rr.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Enqueue queues a job for runners whose tags cover its tags (untagged jobs need
// RunUntagged). It assigns ID and Token when zero/empty, fills Features.FailureReasons with
// every reason GitLab knows when empty and RunnerInfo.Timeout with DefaultJobTimeout when
// zero. It returns the job ID and wakes parked job requests at once. Enqueueing an ID that
// is already known is a programming error and panics.
func (s *Server) Enqueue(job jobspec.Job, tags []string) int64 {
	job = cloneJob(job)
	if job.Token == "" {
		job.Token = newToken(jobTokenPrefix)
	}
	if len(job.Features.FailureReasons) == 0 {
		job.Features.FailureReasons = KnownFailureReasons()
	}
	if job.RunnerInfo.Timeout == 0 {
		job.RunnerInfo.Timeout = DefaultJobTimeout
	}

	s.mu.Lock()
	st := &s.state
	if job.ID == 0 {
		job.ID = st.lastJobID + 1
	}
	if _, dup := st.jobs[job.ID]; dup {
		s.mu.Unlock()
		panic(fmt.Sprintf("coordinator: Enqueue: job %d already exists", job.ID))
	}
	st.lastJobID = max(st.lastJobID, job.ID)
	st.jobs[job.ID] = &JobRecord{
		ID:       job.ID,
		Job:      job,
		Tags:     slices.Clone(tags),
		Status:   StatusPending,
		QueuedAt: time.Now(),
	}
	st.queue = append(st.queue, job.ID)
	s.queueChanged()
	s.changed(job.ID)
	s.mu.Unlock()
	s.flushChanges()
	return job.ID
}

// Job returns a deep copy of the job's record.
func (s *Server) Job(id int64) (JobRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.state.jobs[id]
	if !ok {
		return JobRecord{}, false
	}
	return rec.clone(), true
}

// Cancel cancels a job as a GitLab user would. A pending job is simply canceled. A running
// one becomes canceling when graceful (trace patches answer Job-Status: canceling and the
// final PUT is accepted, ending in canceled) or canceled at once otherwise (trace patches
// and PUT then answer 403, as GitLab does for a job no longer running). A graceful cancel
// of a canceling job changes nothing; a forced one completes it. Unknown and finished jobs
// are left alone.
func (s *Server) Cancel(id int64, graceful bool) {
	s.mutate(id, func() bool {
		rec, ok := s.state.jobs[id]
		if !ok || rec.Finished() || (graceful && rec.Status == StatusCanceling) {
			return false
		}
		switch {
		case rec.Status == StatusPending:
			s.state.removeFromQueue(id)
			rec.Status, rec.FinishedAt = StatusCanceled, time.Now()
		case graceful:
			rec.Status = StatusCanceling
		default:
			rec.Status, rec.FinishedAt = StatusCanceled, time.Now()
		}
		return true
	})
}
