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
	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/metrics"
)

// Runner serves every runner entry of the configuration: its pollers, its jobs and their traces.
type Runner struct {
	log      *slog.Logger
	metrics  *metrics.Metrics
	timing   Timing
	settings settings
	version  string
	traceDir string
	// saveToken persists a rotated token (Options.SaveToken); nil: tokens are not rotated.
	saveToken func(runner, token string, obtained, expires time.Time) error
	entries   []*entry
	global    *slots

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
	// jobsMu orders adding an adopted job to jobsWG against shutdown's Wait.
	jobsMu sync.Mutex
}

// entry is one runner of the configuration with its own coordinator and executor.
type entry struct {
	cfg   config.Runner // its token and token dates are those at start: see token
	coord Coordinator
	exec  Executor
	// token is swapped whole when the token is rotated. Pollers load it for every request,
	// so the first request after a rotation carries the new token; running jobs talk to
	// GitLab with their own job tokens and never notice.
	token    atomic.Pointer[runnerToken]
	systemID string
	slots    *slots // its own limit: size 0 when it has none
}

// runnerToken is a runner's authentication token with the dates rotation goes by.
type runnerToken struct {
	creds    gitlab.RunnerCredentials
	obtained time.Time // zero: not known (a config written before token_obtained_at)
	expires  time.Time // zero: never
}

// creds are the runner credentials for the next request.
func (e *entry) creds() gitlab.RunnerCredentials { return e.token.Load().creds }

// tokenOf reads rc's token and its dates; the config validated them, a Config built in
// code may not have been.
func tokenOf(rc config.Runner, systemID string) (*runnerToken, error) {
	t := &runnerToken{creds: gitlab.RunnerCredentials{URL: rc.URL, Token: rc.Token, SystemID: systemID}}
	for _, d := range [...]struct {
		key, value string
		dst        *time.Time
	}{{"token_expires_at", rc.TokenExpiresAt, &t.expires}, {"token_obtained_at", rc.TokenObtainedAt, &t.obtained}} {
		if d.value == "" {
			continue
		}
		at, err := time.Parse(time.RFC3339, d.value)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not an RFC 3339 time", d.key, d.value)
		}
		*d.dst = at
	}
	return t, nil
}

var errShutdown = errors.New("the runner is shutting down")

// New builds the coordinators and executors of every runner entry; it starts nothing.
func New(opts Options) (*Runner, error) {
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
	r := &Runner{
		log:       log,
		metrics:   opts.Metrics,
		timing:    opts.Timing.withDefaults(),
		settings:  st,
		version:   version,
		traceDir:  opts.TraceDir,
		saveToken: opts.SaveToken,
		global:    newSlots(st.concurrent),
		aborted:   make(chan struct{}),
	}
	r.jobs, r.cancelJobs = context.WithCancelCause(context.Background())
	r.metrics.SetConcurrent(st.concurrent)
	for i, rc := range opts.Config.Runners {
		coord, err := opts.Coordinator(rc)
		if err != nil {
			return nil, fmt.Errorf("runner %d (%s): coordinator: %w", i, rc.Name, err)
		}
		exec, err := opts.Executor(rc)
		if err != nil {
			return nil, fmt.Errorf("runner %d (%s): executor: %w", i, rc.Name, err)
		}
		tok, err := tokenOf(rc, opts.SystemID)
		if err != nil {
			return nil, fmt.Errorf("runner %d (%s): %w", i, rc.Name, err)
		}
		e := &entry{cfg: rc, coord: coord, exec: exec, systemID: opts.SystemID, slots: newSlots(rc.Limit)}
		e.token.Store(tok)
		r.entries = append(r.entries, e)
		r.metrics.SetLimit(rc.Name, rc.Limit)
	}
	return r, nil
}

// Run adopts the jobs an earlier process left to their pods, serves until ctx ends, then
// stops polling at once and either leaves running jobs to their pods (shutdown_jobs: leave)
// or, as GitLab Runner does, lets them finish for up to ShutdownTimeout, then aborts them and
// reports them failed with runner_system_failure. Returns when every job is reported or left.
func (r *Runner) Run(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("runner: Run called twice")
	}
	// Last, once no job of this process follows a pod any more.
	defer r.closeExecutors()
	started := time.Now()
	pollCtx, stopPolling := context.WithCancel(ctx)
	defer stopPolling()
	done := ctx.Done()
	r.runDone.Store(&done)
	r.polling.Store(true)
	for _, e := range r.entries {
		// Only a runner that leaves jobs to their pods adopts them: local pipelines, which
		// wait, have a coordinator of their own that no earlier job belongs to.
		if a, ok := e.exec.(Adopter); ok && r.settings.leaveJobs {
			a.Adopt(r.adopter(e))
		}
	}
	var pollers, rotators sync.WaitGroup
	for _, e := range r.entries {
		for i := range max(e.cfg.RequestConcurrency, 1) {
			pollers.Go(func() { r.poll(pollCtx, e, i) })
		}
		rotators.Go(func() { r.rotate(pollCtx, e, started) })
	}

	select {
	case <-ctx.Done():
		r.log.Debug("polling stopped", "shutdown_timeout", r.settings.shutdownTimeout)
	case <-r.aborted:
	}
	r.stop()
	stopPolling()
	// Pollers hand a job they already got to jobsWG before they return. A rotation under
	// way finishes its reset and save first: the process must not exit between the two.
	pollers.Wait()
	rotators.Wait()

	if r.settings.leaveJobs {
		select {
		case <-r.aborted:
		default:
			r.log.Info("leaving running jobs to their pods")
			r.cancelJobs(jobspec.ErrLeftToPod)
		}
	}

	jobsDone := make(chan struct{})
	go func() { r.jobsWG.Wait(); close(jobsDone) }()
	grace := time.NewTimer(r.settings.shutdownTimeout)
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
func (r *Runner) Abort() {
	r.abortOnce.Do(func() {
		r.log.Debug("aborting running jobs")
		r.stop()
		r.cancelJobs(errShutdown)
		close(r.aborted)
	})
}

// stop marks the runner stopping: no poller and no adoption adds a job from now on.
func (r *Runner) stop() {
	r.jobsMu.Lock()
	defer r.jobsMu.Unlock()
	r.stopping.Store(true)
	r.polling.Store(false)
}

// Ready serves /health/ready: nil once polling has started and while not shutting down.
func (r *Runner) Ready() error {
	if !r.polling.Load() && !r.stopping.Load() {
		return errors.New("not polling yet")
	}
	if r.stopping.Load() || r.shutdownBegun() {
		return errors.New("shutting down")
	}
	return nil
}

func (r *Runner) shutdownBegun() bool {
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
