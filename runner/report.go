package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/jobspec"
)

// report delivers the final state: retried with jittered backoff on transient failures and at the
// server's trace interval on 202 (trace not finalised yet), until accepted or refused
// (403/404/409), at least Timing.ReportTries times and for as long as the job's own timeout:
// a coordinator outage at the wrong moment must not lose the job's end.
func (r *Manager) report(ctx context.Context, coord GitLab, jc gitlab.JobCredentials, req gitlab.UpdateJobRequest, interval, patience time.Duration) error {
	res, err := updateJob(ctx, coord, jc, req, interval, r.timing, time.Now().Add(patience))
	if err != nil {
		return err
	}
	if res == gitlab.UpdateTraceNotYet {
		return fmt.Errorf("update job %d: the coordinator still waits for the trace after %d tries", jc.ID, r.timing.ReportTries)
	}
	return nil
}

// update sends one PUT /jobs/:id until it gets a final answer (accepted, abort or conflict),
// trying at most Timing.ReportTries times. It returns the last answer.
func (r *Manager) update(ctx context.Context, coord GitLab, jc gitlab.JobCredentials, req gitlab.UpdateJobRequest, interval time.Duration) (gitlab.UpdateJobResult, error) {
	return updateJob(ctx, coord, jc, req, interval, r.timing, time.Time{})
}

// updateJob is update with explicit timing, for the pod's shipper too; it keeps trying past
// Timing.ReportTries until the time until.
func updateJob(ctx context.Context, coord GitLab, jc gitlab.JobCredentials, req gitlab.UpdateJobRequest, interval time.Duration, timing Timing, until time.Time) (gitlab.UpdateJobResult, error) {
	var (
		res gitlab.UpdateJobResult
		err error
	)
	more := func(attempt int) bool { return attempt+1 < timing.ReportTries || time.Now().Before(until) }
	for attempt := 0; ; attempt++ {
		res, err = coord.UpdateJob(ctx, jc, req)
		var wait time.Duration
		switch {
		case errors.Is(err, gitlab.ErrForbidden), errors.Is(err, gitlab.ErrNotFound):
			return gitlab.UpdateAbort, nil
		case err != nil && !errors.Is(err, gitlab.ErrTransient) && ctx.Err() == nil:
			// The coordinator refused the request itself (a 4xx); sending it again cannot help.
			return res, fmt.Errorf("update job %d to %s: %w", jc.ID, req.State, err)
		case err != nil:
			wait = timing.Backoff.Next(attempt)
		case res == gitlab.UpdateTraceNotYet:
			wait = interval
		default:
			return res, nil
		}
		if !more(attempt) {
			if err != nil {
				return res, fmt.Errorf("update job %d to %s: gave up after %d tries: %w", jc.ID, req.State, attempt+1, err)
			}
			return res, nil
		}
		if !sleep(ctx, wait) {
			return res, ctx.Err()
		}
	}
}

// finalState is the PUT that ends a job: its state, GitLab's failure reason, the exit code
// when the script ran, and the trace's checksum and size.
func finalState(job *jobspec.Job, res jobspec.Result, checksum string, size int64) gitlab.UpdateJobRequest {
	final := gitlab.UpdateJobRequest{
		State:         gitlab.StateSuccess,
		FailureReason: job.ReportableReason(res.Reason),
		Checksum:      checksum,
		Bytesize:      size,
	}
	if !res.Success() {
		final.State = gitlab.StateFailed
	}
	if res.Success() || res.Reason == jobspec.ScriptFailure || res.ExitCode != 0 {
		final.ExitCode = &res.ExitCode
	}
	return final
}
