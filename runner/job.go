package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/trace"
)

// Causes of an executor's context ending early; they decide the reported failure reason.
var (
	errCanceled = errors.New("the job was cancelled in GitLab")
	errTimeout  = errors.New("job execution timeout")
)

// runJob takes one job from accept to final report. It never returns before the coordinator
// has the final state, or has refused it, or the bounded retries are used up.
func (r *Runner) runJob(e *entry, job *jobspec.Job, received time.Time) {
	log := r.logJob(e, job)
	jc := gitlab.JobCredentials{URL: e.cfg.URL, ID: job.ID, Token: job.Token}
	// Reporting outlives shutdown aborts: an aborted job must still reach GitLab as failed.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	if !r.accept(ctx, e, jc, log) {
		return
	}
	started := time.Now()
	r.metrics.JobStarted(e.cfg.Name)
	log.Info("job started", "name", job.JobInfo.Name)

	res, out := r.execute(ctx, e, job, jc, received, log)
	final := gitlab.UpdateJobRequest{
		State:         gitlab.StateSuccess,
		FailureReason: job.ReportableReason(res.Reason),
		Checksum:      out.checksum,
		Bytesize:      out.size,
	}
	if !res.Success() {
		final.State = gitlab.StateFailed
	}
	if res.Success() || res.Reason == jobspec.ScriptFailure || res.ExitCode != 0 {
		final.ExitCode = &res.ExitCode
	}
	// A job the coordinator cancelled already has its final state there.
	if !out.aborted {
		if err := r.report(ctx, e.coord, jc, final, out.interval); err != nil {
			log.Error("final job state not delivered", "state", final.State, "err", err)
			r.metrics.Error("error")
		}
	}
	r.metrics.JobFinished(e.cfg.Name, res.Reason, time.Since(started))
	log.Info("job finished", "state", final.State, "failure_reason", res.Reason, "duration", time.Since(started).Round(time.Millisecond))
}

// accept is the second phase of the job commit: PUT state=running. A conflict means another
// manager of the same runner took the job, which is normal with several managers.
func (r *Runner) accept(ctx context.Context, e *entry, jc gitlab.JobCredentials, log *slog.Logger) bool {
	res, err := r.update(ctx, e.coord, jc, gitlab.UpdateJobRequest{State: gitlab.StateRunning}, r.traceInterval())
	switch {
	case err != nil:
		log.Error("could not accept the job", "err", err)
		r.metrics.Error("error")
		return false
	case res == gitlab.UpdateConflict:
		log.Debug("job taken by another manager")
		return false
	case res == gitlab.UpdateAbort:
		log.Info("job gone before it was accepted")
		return false
	}
	return true
}

// outcome is what the trace side of a job left for the final PUT.
type outcome struct {
	checksum string
	size     int64
	interval time.Duration // the server's trace interval, also its pace for 202 answers
	aborted  bool          // the coordinator dropped the job: reporting is pointless
}

// execute runs the job with its trace: buffer, shipper, the runner's own lines around the
// executor's output, then a complete flush.
func (r *Runner) execute(ctx context.Context, e *entry, job *jobspec.Job, jc gitlab.JobCredentials, received time.Time, log *slog.Logger) (jobspec.Result, outcome) {
	buf, err := trace.New(trace.Options{
		Masks:         job.Masks(),
		TokenPrefixes: job.Features.TokenMaskPrefixes,
		Limit:         outputLimit(e.cfg.OutputLimit),
		Dir:           r.traceDir,
	})
	if err != nil {
		res := jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: fmt.Errorf("create trace buffer: %w", err)}
		log.Error("job failed before it started", "err", res.Err)
		return res, outcome{interval: r.traceInterval()}
	}
	defer buf.Close()

	// Everything that stops the executor early goes through execCtx with a cause.
	execCtx, cancelExec := context.WithCancelCause(r.jobs)
	defer cancelExec(nil)
	graceful := make(chan struct{})
	var firstByte atomic.Bool
	sh := &shipper{
		coord:    e.coord,
		jc:       jc,
		src:      buf,
		timing:   r.timing,
		interval: r.traceInterval(),
		log:      log,
		onCancel: sync.OnceFunc(func() {
			log.Info("graceful cancel requested")
			close(graceful)
		}),
		onAbort: func() { cancelExec(errCanceled) },
		onSent: func(n int64) {
			if firstByte.CompareAndSwap(false, true) {
				r.metrics.ObserveJobStart(e.cfg.Name, time.Since(received))
			}
			r.metrics.TraceBytes(e.cfg.Name, int(n))
		},
		flushReq: make(chan struct{}),
		done:     make(chan struct{}),
	}
	go sh.run(ctx)

	writeHeader(buf, r.version, e.cfg.Name, e.creds.SystemID)
	res := r.runExecutor(execCtx, e, job, buf, graceful, log)
	res = explain(res, context.Cause(execCtx))
	writeFooter(buf, res)
	buf.Finish()

	if err := sh.flush(); err != nil {
		log.Warn("trace not completely delivered", "err", err)
		r.metrics.Error("warn")
	}
	if err := buf.Err(); err != nil {
		log.Warn("job output lost: the trace buffer could not store it", "err", err)
		r.metrics.Error("warn")
	}
	return res, outcome{
		checksum: buf.Checksum(),
		size:     buf.Len(),
		interval: sh.interval,
		aborted:  sh.aborted,
	}
}

// runExecutor applies the job's timeout and keeps an executor panic from taking every other
// job down with it.
func (r *Runner) runExecutor(ctx context.Context, e *entry, job *jobspec.Job, log io.Writer, graceful <-chan struct{}, logger *slog.Logger) (res jobspec.Result) {
	if t := job.RunnerInfo.Timeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, time.Duration(t)*time.Second, errTimeout)
		defer cancel()
	}
	defer func() {
		if p := recover(); p != nil {
			logger.Error("executor panicked", "stack", string(debug.Stack()))
			r.metrics.Error("error")
			res = jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: errors.New("executor panicked")}
		}
	}()
	res = e.exec.Run(ctx, job, log, graceful)
	// Timeout is judged here, where its context still exists.
	if !res.Success() && errors.Is(context.Cause(ctx), errTimeout) {
		res = jobspec.Result{Reason: jobspec.JobExecutionTimeout, ExitCode: res.ExitCode,
			Err: fmt.Errorf("execution took longer than %v", time.Duration(job.RunnerInfo.Timeout)*time.Second)}
	}
	return res
}

// explain turns an executor failure caused by the runner's own abort into runner_system_failure,
// as gitlab-runner reports jobs it aborted at shutdown.
func explain(res jobspec.Result, cause error) jobspec.Result {
	if res.Success() || !errors.Is(cause, errShutdown) {
		return res
	}
	return jobspec.Result{Reason: jobspec.RunnerSystemFailure, ExitCode: res.ExitCode, Err: fmt.Errorf("job aborted: %w", errShutdown)}
}

func outputLimit(kib int) int64 {
	if kib <= 0 {
		kib = defaultOutputLimitKiB
	}
	return int64(kib) * 1024
}

func (r *Runner) traceInterval() time.Duration {
	if r.timing.TraceInterval > 0 {
		return r.timing.TraceInterval
	}
	return defaultTraceInterval
}
