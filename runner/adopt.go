package runner

import (
	"context"
	"io"
	"time"

	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/jobspec"
)

// Adopter is an executor whose job pods outlive the runner process: they ship their traces
// and report on their own, and a runner that starts later carries on what an earlier one
// left (executor.Kubernetes). adopt is called once for every such job, in a goroutine of the
// executor's; follow watches the pod to its end with the job log given, as Run does.
type Adopter interface {
	Adopt(adopt func(job *jobspec.Job, handed jobpod.Trace,
		follow func(ctx context.Context, log io.Writer, graceful <-chan struct{}) jobspec.Result))
}

// Closer is an executor that holds something for as long as the runner runs: the
// Kubernetes executor's informer and its replica's Lease. Run closes it once no job of this
// process follows a pod any more; with shutdown_jobs: leave, the Lease's deletion lets the
// runner's other replicas adopt the jobs left to their pods at once, not once it expired.
type Closer interface{ Close() }

func (r *Manager) closeExecutors() {
	r.mu.Lock()
	entries := r.entries
	for _, e := range entries {
		e.closed = true
	}
	r.mu.Unlock()
	for _, e := range entries {
		closeExecutor(e)
	}
}

func closeExecutor(e *entry) {
	if c, ok := e.exec.(Closer); ok {
		c.Close()
	}
}

// adopter takes on the left jobs of entry e as jobs of this process: followed to their end,
// their trace taken back and their final state sent when their pod could not, or left again
// should this process stop too.
func (r *Manager) adopter(e *entry) func(*jobspec.Job, jobpod.Trace, func(context.Context, io.Writer, <-chan struct{}) jobspec.Result) {
	return func(job *jobspec.Job, handed jobpod.Trace, follow func(context.Context, io.Writer, <-chan struct{}) jobspec.Result) {
		r.mu.Lock()
		if r.stopping.Load() || e.closed {
			r.mu.Unlock()
			// Leave it for the next process; follow returns at once and leaves the pod be.
			ctx, cancel := context.WithCancelCause(context.Background())
			cancel(jobspec.ErrLeftToPod)
			follow(ctx, io.Discard, nil)
			return
		}
		r.jobsWG.Add(1)
		e.busy++
		r.mu.Unlock()
		defer r.jobsWG.Done()
		defer r.idle(e)
		r.adoptJob(e, job, handed, follow)
	}
}

func (r *Manager) adoptJob(e *entry, job *jobspec.Job, handed jobpod.Trace, follow func(context.Context, io.Writer, <-chan struct{}) jobspec.Result) {
	log := r.logJob(e, job)
	jc := gitlab.JobCredentials{URL: e.url, ID: job.ID, Token: job.Token}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := time.Now()
	r.metrics.JobStarted(e.name)
	log.Info("job adopted from its pod", "name", job.JobInfo.Name)

	t := r.newJobTrace(ctx, e, job, jc, started, log)
	defer t.close()
	t.h.owner, t.h.handed = ownerPod, jobpod.ShipperState{Offset: handed.Offset, CRC: handed.CRC}
	res := func() (res jobspec.Result) {
		defer r.survivePanic(log, &res)
		return follow(t.execCtx, t.h, t.graceful)
	}()
	res, out := t.finish(ctx, res)
	r.conclude(ctx, e, job, jc, res, out, started, log)
}
