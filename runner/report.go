package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kuberunner/kuberunner/gitlab"
)

// report delivers the final state: retried with jittered backoff on transient failures and at the
// server's trace interval on 202 (trace not finalised yet), until accepted or refused
// (403/404/409), at most Timing.ReportTries times.
func (r *Runner) report(ctx context.Context, coord Coordinator, jc gitlab.JobCredentials, req gitlab.UpdateJobRequest, interval time.Duration) error {
	res, err := r.update(ctx, coord, jc, req, interval)
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
func (r *Runner) update(ctx context.Context, coord Coordinator, jc gitlab.JobCredentials, req gitlab.UpdateJobRequest, interval time.Duration) (gitlab.UpdateJobResult, error) {
	var (
		res gitlab.UpdateJobResult
		err error
	)
	for attempt := range r.timing.ReportTries {
		res, err = coord.UpdateJob(ctx, jc, req)
		var wait time.Duration
		switch {
		case errors.Is(err, gitlab.ErrForbidden), errors.Is(err, gitlab.ErrNotFound):
			return gitlab.UpdateAbort, nil
		case err != nil && !errors.Is(err, gitlab.ErrTransient) && ctx.Err() == nil:
			// The coordinator refused the request itself (a 4xx); sending it again cannot help.
			return res, fmt.Errorf("update job %d to %s: %w", jc.ID, req.State, err)
		case err != nil:
			wait = r.timing.Backoff.Next(attempt)
		case res == gitlab.UpdateTraceNotYet:
			wait = interval
		default:
			return res, nil
		}
		if attempt+1 < r.timing.ReportTries && !sleep(ctx, wait) {
			return res, ctx.Err()
		}
	}
	if err != nil {
		return res, fmt.Errorf("update job %d to %s: gave up after %d tries: %w", jc.ID, req.State, r.timing.ReportTries, err)
	}
	return res, nil
}
