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

	"github.com/kuberunner/kuberunner/executor/jobpod"
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
func (r *Manager) runJob(e *entry, job *jobspec.Job, received time.Time) {
	log := r.logJob(e, job)
	jc := gitlab.JobCredentials{URL: e.url, ID: job.ID, Token: job.Token}
	// Reporting outlives shutdown aborts: an aborted job must still reach GitLab as failed.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	if !r.accept(ctx, e, jc, log) {
		return
	}
	started := time.Now()
	r.metrics.JobStarted(e.name)
	log.Info("job started", "name", job.JobInfo.Name)

	res, out := r.execute(ctx, e, job, jc, received, log)
	r.conclude(ctx, e, job, jc, res, out, started, log)
}

// conclude sends the job's final state unless the pod did, GitLab dropped the job or the
// job was left to its pod, and counts the job as finished.
func (r *Manager) conclude(ctx context.Context, e *entry, job *jobspec.Job, jc gitlab.JobCredentials, res jobspec.Result, out outcome, started time.Time, log *slog.Logger) {
	if out.left {
		log.Info("job left to its pod: a runner that starts later adopts it")
		return
	}
	final := finalState(job, res, out.checksum, out.size)
	// A job the coordinator cancelled already has its final state there; a pod that
	// reported has sent it.
	if !out.aborted && !out.reported {
		if err := r.report(ctx, e.coord, jc, final, out.interval, jobTimeout(job)); err != nil {
			log.Error("final job state not delivered", "state", final.State, "err", err)
			r.metrics.Error("error")
		}
	}
	r.metrics.JobFinished(e.name, res.Reason, time.Since(started))
	log.Info("job finished", "state", final.State, "failure_reason", res.Reason, "duration", time.Since(started).Round(time.Millisecond))
}

// accept is the second phase of the job commit: PUT state=running. A conflict means another
// manager of the same runner took the job, which is normal with several managers.
func (r *Manager) accept(ctx context.Context, e *entry, jc gitlab.JobCredentials, log *slog.Logger) bool {
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
	checksum string // "" when part of the trace was shipped by a pod that lost its count
	size     int64
	interval time.Duration // the server's trace interval, also its pace for 202 answers
	aborted  bool          // the coordinator dropped the job: reporting is pointless
	reported bool          // the pod delivered the final state itself
	left     bool          // the runner went away and left the job to its pod
}

// execute runs the job with its trace: the runner's lines before the pod, the pod's part
// shipped by the pod, and the runner's lines after it when the runner reports.
func (r *Manager) execute(ctx context.Context, e *entry, job *jobspec.Job, jc gitlab.JobCredentials, received time.Time, log *slog.Logger) (jobspec.Result, outcome) {
	t := r.newJobTrace(ctx, e, job, jc, received, log)
	defer t.close()
	first, err := t.h.newLeg(0, 0)
	if err != nil {
		res := jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: err}
		log.Error("job failed before it started", "err", res.Err)
		return res, outcome{interval: r.traceInterval()}
	}
	t.h.cur, t.h.crcKnown = first, true
	writeHeader(first.buf, r.version, e.name, e.systemID)
	res := r.runExecutor(t.execCtx, e, job, t.h, t.graceful, log)
	return t.finish(ctx, res)
}

// jobTrace is the trace side of one job: the handoff the executor writes to, the legs the
// runner ships itself, and the context through which a cancel or timeout stops the executor.
type jobTrace struct {
	r          *Manager
	h          *handoff
	legs       []*leg
	log        *slog.Logger
	execCtx    context.Context
	cancelExec context.CancelCauseFunc
	graceful   chan struct{}
}

func (r *Manager) newJobTrace(ctx context.Context, e *entry, job *jobspec.Job, jc gitlab.JobCredentials, received time.Time, log *slog.Logger) *jobTrace {
	// Everything that stops the executor early goes through execCtx with a cause.
	t := &jobTrace{r: r, log: log, graceful: make(chan struct{})}
	t.execCtx, t.cancelExec = context.WithCancelCause(r.jobs)
	var firstByte atomic.Bool
	opts := trace.Options{
		Masks:         job.Masks(),
		TokenPrefixes: job.Features.TokenMaskPrefixes,
		Limit:         outputLimit(e.conf().OutputLimit),
		Dir:           r.traceDir,
	}
	onCancel := sync.OnceFunc(func() {
		log.Info("graceful cancel requested")
		close(t.graceful)
	})
	t.h = &handoff{coord: e.coord, jc: jc, log: log, pod: r.podTrace(opts.Limit)}
	t.h.newLeg = func(start int64, crc uint32) (*leg, error) {
		o := opts
		o.Base, o.CRC = start, crc
		buf, err := trace.New(o)
		if err != nil {
			return nil, fmt.Errorf("create trace buffer: %w", err)
		}
		sh := newShipper(e.coord, jc, buf, r.timing, r.traceInterval(), log, start, crc)
		sh.onCancel = onCancel
		sh.onAbort = func() { t.cancelExec(errCanceled) }
		sh.onSent = func(n int64) {
			if firstByte.CompareAndSwap(false, true) {
				r.metrics.ObserveJobStart(e.name, time.Since(received))
			}
			r.metrics.TraceBytes(e.name, int(n))
		}
		t.legs = append(t.legs, &leg{buf: buf, sh: sh})
		go sh.run(ctx)
		return t.legs[len(t.legs)-1], nil
	}
	return t
}

func (t *jobTrace) close() {
	t.cancelExec(nil)
	for _, l := range t.legs {
		l.buf.Close()
	}
}

// finish ends the trace after the executor returned: nothing when the pod reported or the
// job was left to it; otherwise the runner's footer after the pod's part, delivered whole.
func (t *jobTrace) finish(ctx context.Context, res jobspec.Result) (jobspec.Result, outcome) {
	r, log := t.r, t.log
	if errors.Is(res.Err, jobspec.ErrLeftToPod) {
		return res, outcome{left: true, interval: r.traceInterval()}
	}
	res = classifyShutdownAbort(res, context.Cause(t.execCtx))
	if err := t.h.settle(ctx); err != nil {
		log.Error("trace not taken back from the pod", "err", err)
	}
	if st, ok := t.h.podState(); ok {
		return res, outcome{reported: st.Reported, aborted: st.Gone, interval: r.traceInterval()}
	}
	l, known := t.h.active()
	writeFooter(l.buf, res)
	l.buf.Finish()
	if err := l.sh.flush(); err != nil {
		log.Warn("trace not completely delivered", "err", err)
		r.metrics.Error("warn")
	}
	if err := l.buf.Err(); err != nil {
		log.Warn("job output lost: the trace buffer could not store it", "err", err)
		r.metrics.Error("warn")
	}
	out := outcome{size: l.buf.Len(), interval: l.sh.interval, aborted: l.sh.aborted}
	for _, prev := range t.legs {
		out.aborted = out.aborted || prev.sh.aborted
	}
	if known {
		out.checksum = l.buf.Checksum()
	}
	return res, out
}

// runExecutor applies the job's timeout and keeps an executor panic from taking every other
// job down with it.
func (r *Manager) runExecutor(ctx context.Context, e *entry, job *jobspec.Job, log io.Writer, graceful <-chan struct{}, logger *slog.Logger) (res jobspec.Result) {
	if t := job.RunnerInfo.Timeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, time.Duration(t)*time.Second, errTimeout)
		defer cancel()
	}
	defer r.survivePanic(logger, &res)
	res = e.exec.Run(ctx, job, log, graceful)
	// Timeout is judged here, where its context still exists.
	if !res.Success() && errors.Is(context.Cause(ctx), errTimeout) {
		res = jobspec.Result{Reason: jobspec.JobExecutionTimeout, ExitCode: res.ExitCode,
			Err: fmt.Errorf("execution took longer than %v", time.Duration(job.RunnerInfo.Timeout)*time.Second)}
	}
	return res
}

// survivePanic, deferred around an executor call, turns its panic into a system failure of
// that one job, so it does not take every other job down with it.
func (r *Manager) survivePanic(logger *slog.Logger, res *jobspec.Result) {
	if p := recover(); p != nil {
		logger.Error("executor panicked", "stack", string(debug.Stack()))
		r.metrics.Error("error")
		*res = jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: errors.New("executor panicked")}
	}
}

// classifyShutdownAbort turns an executor failure caused by the runner's own abort into runner_system_failure,
// as gitlab-runner reports jobs it aborted at shutdown.
func classifyShutdownAbort(res jobspec.Result, cause error) jobspec.Result {
	if res.Success() || !errors.Is(cause, errShutdown) {
		return res
	}
	return jobspec.Result{Reason: jobspec.RunnerSystemFailure, ExitCode: res.ExitCode, Err: fmt.Errorf("job aborted: %w", errShutdown)}
}

// jobTimeout is the job's own timeout, GitLab's default of an hour when it has none.
func jobTimeout(job *jobspec.Job) time.Duration {
	if t := job.RunnerInfo.Timeout; t > 0 {
		return time.Duration(t) * time.Second
	}
	return time.Hour
}

func outputLimit(kib int) int64 {
	if kib <= 0 {
		kib = defaultOutputLimitKiB
	}
	return int64(kib) * 1024
}

func (r *Manager) traceInterval() time.Duration {
	if r.timing.TraceInterval > 0 {
		return r.timing.TraceInterval
	}
	return defaultTraceInterval
}

// podMaxLag bounds the job output GitLab has not acknowledged yet: past it the job's writes
// wait for the shipper, so a chatty job slows down instead of losing bytes.
const podMaxLag = 8 << 20

// podTrace is how a job pod ships its trace: at the runner's pace, within its output limit.
func (r *Manager) podTrace(limit int64) jobpod.Trace {
	return jobpod.Trace{
		Limit:       limit,
		IntervalMS:  r.timing.TraceInterval.Milliseconds(),
		KeepAliveMS: r.timing.KeepAlive.Milliseconds(),
		MaxLag:      podMaxLag,
	}
}
