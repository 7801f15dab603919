package runner

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/jobspec"
)

// poll is one of a runner's RequestConcurrency pollers. It holds a slot before each request,
// so a runner at its limit (or the process at concurrent) does not ask GitLab for work it
// could not start; a job carries the slot away and the poller asks again at once.
func (r *Manager) poll(ctx context.Context, e *entry, n int) {
	log := r.log.With("runner", e.name, "poller", n)
	var lastUpdate string
	failures := 0  // failed requests in a row: the backoff's exponent
	forbidden := 0 // refused ones (401/403) in a row: only these make the poller unhealthy
	for {
		s, err := acquireSlot(ctx, e.slots, r.global)
		if err != nil {
			return
		}
		start := time.Now()
		job, lu, err := e.coord.RequestJob(ctx, e.creds(), lastUpdate)
		if err == nil && job != nil {
			failures, forbidden = 0, 0
			r.startJob(e, job, s, time.Now())
			continue
		}
		if pe := (*gitlab.PayloadError)(nil); errors.As(err, &pe) && pe.Job != nil {
			r.rejectJob(e, *pe.Job, pe, s)
			continue
		}
		s.release()
		if ctx.Err() != nil {
			return
		}
		var wait time.Duration
		rc := e.conf() // a reload may have changed it since the last request
		switch {
		case err == nil: // 204: no job for us
			failures, forbidden = 0, 0
			lastUpdate = lu
			// Long polling normally makes the server wait; only an answer faster than
			// check_interval (no long polling in front of GitLab) needs a pause here.
			wait = r.settings.Load().checkInterval - time.Since(start)
		case errors.Is(err, gitlab.ErrConflict):
			// Another runner won the race for that job; there may be more.
			wait = 0
		case errors.As(err, new(*gitlab.PayloadError)):
			// Without even an id and token the job cannot be failed; GitLab will time it out.
			log.Error("unreadable job payload dropped", "err", err)
			r.metrics.Error("error")
		case errors.Is(err, gitlab.ErrForbidden) && rc.UnhealthyRequestsLimit > 0 && forbidden+1 >= rc.UnhealthyRequestsLimit:
			// Only a run of refusals (a revoked or wrong token) pauses the poller, as it won't
			// heal by itself. gitlab-runner also pauses for an hour after three connection
			// errors in a row, so a 30 s GitLab outage stops its runners for an hour; an
			// outage or 5xx here only backs off (at most Backoff.Max) and polling resumes
			// as soon as GitLab answers.
			failures, forbidden = 0, 0
			wait = rc.UnhealthyInterval.Std()
			log.Error("job requests keep failing: pausing this poller", "failed_in_a_row", rc.UnhealthyRequestsLimit,
				"err", err, "retry_in", wait)
			r.metrics.Error("error")
		case errors.Is(err, gitlab.ErrForbidden):
			wait = r.timing.Backoff.Next(failures)
			failures++
			forbidden++
			log.Error("job request forbidden: the runner token is invalid or revoked", "retry_in", wait)
			r.metrics.Error("error")
		default:
			wait = r.timing.Backoff.Next(failures)
			failures++
			forbidden = 0
			log.Warn("job request failed", "err", err, "retry_in", wait)
			r.metrics.Error("warn")
		}
		if !sleep(ctx, wait) {
			return
		}
	}
}

// startJob hands the job to its own goroutine, which owns the slot until the job is reported.
// The job holds e too, so a runner removed by a reload keeps its executor until the job is over.
func (r *Manager) startJob(e *entry, job *jobspec.Job, s *slot, received time.Time) {
	r.hold(e)
	r.jobsWG.Go(func() {
		defer r.idle(e)
		defer s.release()
		r.runJob(e, job, received)
	})
}

// sleep waits d or until ctx is done, and reports whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// logJob returns the logger for one job: never with its token.
func (r *Manager) logJob(e *entry, job *jobspec.Job) *slog.Logger {
	return r.log.With("runner", e.name, "job", job.ID, "project", job.JobInfo.ProjectFullPath)
}
