package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/metrics"
)

// Manager serves every runner entry of the configuration: its pollers, its jobs and their traces.
type Manager struct {
	log      *slog.Logger
	metrics  *metrics.Metrics
	timing   Timing
	settings atomic.Pointer[settings]
	version  string
	traceDir string
	systemID string
	newCoord func(config.Runner) (GitLab, error)
	newExec  func(config.Runner) (Executor, error)
	// saveToken persists a rotated token (Options.SaveToken); nil: tokens are not rotated.
	saveToken func(runner, token string, obtained, expires time.Time) error
	global    *slots

	// mu guards entries and their pollers, and orders adding a poller or an adopted job
	// against shutdown's Wait.
	mu      sync.Mutex
	entries []*entry
	// pollCtx is Run's polling context, nil before Run; startedAt is when Run began.
	pollCtx   context.Context
	startedAt time.Time
	pollers   sync.WaitGroup
	rotators  sync.WaitGroup

	started  atomic.Bool // Run was called
	polling  atomic.Bool // pollers are up and not stopping
	stopping atomic.Bool
	// runDone is Run's ctx.Done: Ready must turn false the moment shutdown begins,
	// not when Run's goroutine gets around to noticing.
	runDone atomic.Pointer[<-chan struct{}]

	abortOnce sync.Once
	aborted   chan struct{} // closed by Abort

	// jobs is cancelled (with errShutdown as cause) when running jobs must stop now.
	jobs       context.Context
	cancelJobs context.CancelCauseFunc
	jobsWG     sync.WaitGroup
}

var errShutdown = errors.New("the runner is shutting down")

// New builds the coordinators and executors of every runner entry; it starts nothing.
func New(opts Options) (*Manager, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	version := opts.Version
	if version == "" {
		version = "dev"
	}
	st := settingsOf(opts.Config)
	r := &Manager{
		log:       log,
		metrics:   opts.Metrics,
		timing:    opts.Timing.withDefaults(),
		version:   version,
		traceDir:  opts.TraceDir,
		systemID:  opts.SystemID,
		newCoord:  opts.GitLab,
		newExec:   opts.Executor,
		saveToken: opts.SaveToken,
		global:    newSlots(st.concurrent),
		aborted:   make(chan struct{}),
	}
	r.settings.Store(&st)
	r.jobs, r.cancelJobs = context.WithCancelCause(context.Background())
	r.metrics.SetConcurrent(st.concurrent)
	for i, rc := range opts.Config.Runners {
		e, err := r.newEntry(rc)
		if err != nil {
			return nil, fmt.Errorf("runner %d (%s): %w", i, rc.Name, err)
		}
		r.entries = append(r.entries, e)
	}
	return r, nil
}

// Run adopts the jobs an earlier process left to their pods, serves until ctx ends, then
// stops polling at once and either leaves running jobs to their pods (shutdown_jobs: leave)
// or, as GitLab Runner does, lets them finish for up to ShutdownTimeout, then aborts them and
// reports them failed with runner_system_failure. Returns when every job is reported or left.
func (r *Manager) Run(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("runner: Run called twice")
	}
	// Last, once no job of this process follows a pod any more.
	defer r.closeExecutors()
	pollCtx, stopPolling := context.WithCancel(ctx)
	defer stopPolling()
	done := ctx.Done()
	r.runDone.Store(&done)
	r.mu.Lock()
	r.pollCtx, r.startedAt = pollCtx, time.Now()
	for _, e := range r.entries {
		r.startEntry(e)
	}
	r.mu.Unlock()
	r.polling.Store(true)

	select {
	case <-ctx.Done():
		r.log.Debug("polling stopped", "shutdown_timeout", r.settings.Load().shutdownTimeout)
	case <-r.aborted:
	}
	r.stop()
	stopPolling()
	// Pollers hand a job they already got to jobsWG before they return. A rotation under
	// way finishes its reset and save first: the process must not exit between the two.
	// stop made sure that no reload starts another of either.
	r.pollers.Wait()
	r.rotators.Wait()

	st := r.settings.Load()
	if st.leaveJobs {
		select {
		case <-r.aborted:
		default:
			r.log.Info("leaving running jobs to their pods")
			r.cancelJobs(jobspec.ErrLeftToPod)
		}
	}

	jobsDone := make(chan struct{})
	go func() { r.jobsWG.Wait(); close(jobsDone) }()
	grace := time.NewTimer(st.shutdownTimeout)
	defer grace.Stop()
	select {
	case <-jobsDone:
		return nil
	case <-grace.C:
		r.log.Warn("shutdown timeout reached: aborting running jobs")
	case <-r.aborted:
	}
	r.cancelJobs(errShutdown)
	<-jobsDone
	return nil
}

// Abort cancels running jobs now and stops polling; they are still reported, as failed with
// runner_system_failure. It is the second SIGTERM/SIGINT. Safe to call more than once.
func (r *Manager) Abort() {
	r.abortOnce.Do(func() {
		r.log.Debug("aborting running jobs")
		r.stop()
		r.cancelJobs(errShutdown)
		close(r.aborted)
	})
}

// stop marks the runner stopping: no poller and no adoption adds a job from now on.
func (r *Manager) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopping.Store(true)
	r.polling.Store(false)
}

// Ready serves /health/ready: nil once polling has started and while not shutting down.
func (r *Manager) Ready() error {
	if !r.polling.Load() && !r.stopping.Load() {
		return errors.New("not polling yet")
	}
	if r.stopping.Load() || r.shutdownBegun() {
		return errors.New("shutting down")
	}
	return nil
}

func (r *Manager) shutdownBegun() bool {
	done := r.runDone.Load()
	if done == nil {
		return false
	}
	select {
	case <-*done:
		return true
	default:
		return false
	}
}
