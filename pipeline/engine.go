package pipeline

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/pipeline/compiler"
)

// EngineOptions configure an Engine.
type EngineOptions struct {
	Pipeline *compiler.Pipeline
	Play     []string // manual jobs to run
	Env      JobEnv
	Output   *Output
	// ArtifactsDir keeps the uploaded artifacts (the coordinator's ArtifactsDir).
	ArtifactsDir string
	// JobsDir, when set, keeps each job's artifacts under readable names as well:
	// <JobsDir>/<job>/artifacts.zip, and the reports by type (dotenv.gz, junit.gz).
	JobsDir string
	// TraceUpdateInterval is what the coordinator asks runners for (whole seconds, at least 1).
	TraceUpdateInterval time.Duration
	// ProgressInterval is the silence after which a progress line is written (default 10s).
	ProgressInterval time.Duration
	// CancelGrace is how long cancelled jobs may take to end gracefully (after_script,
	// artifacts) before they are cancelled at once (default 30s).
	CancelGrace time.Duration
	// NewPipeline creates a child pipeline's identity, as GitLab gives every child its
	// own: the ID its jobs see as CI_PIPELINE_ID, with the pipeline ref they fetch served.
	NewPipeline func() (int64, error)
}

// Engine runs one pipeline: it hands the jobs the Scheduler makes ready to the embedded
// coordinator, follows their records to the end, and passes artifacts between them.
type Engine struct {
	opts   EngineOptions
	sched  *Scheduler
	sh     *shared
	out    *Output
	prefix string // "bridge/" before the job names of a child pipeline, in the output

	// Fed by the coordinator's OnChange, drained by Run.
	mu      sync.Mutex
	records []coordinator.Change
	signal  chan struct{}

	attempts map[int64]*attempt // by coordinator job ID; Run's goroutine only
	latest   map[string]*attempt
	results  map[string]*JobResult
	bridges  bridges
	// again: a job ended inside apply without the runner (a bridge, a job whose parent
	// artifacts are missing), so the jobs after it may be ready at once.
	again     bool
	childPlay map[string][]string // --job names of child jobs (bridge/job), by bridge
	parent    *parentInfo         // a child pipeline's parent, for needs:pipeline:job
}

type attempt struct {
	name    string
	id      int64
	token   string
	status  string
	done    bool
	dotenv  []compiler.Var // from its dotenv report, for the jobs that take its artifacts
	archive string         // the file of its artifacts archive, once uploaded
}

// NewEngine builds the scheduler and the coordinator; Coordinator serves the API.
func NewEngine(opts EngineOptions) (*Engine, error) {
	sh := &shared{tokens: map[string]bool{}, owners: map[int64]*Engine{}}
	var err error
	sh.srv, err = coordinator.New(coordinator.Options{
		LongPoll:            30 * time.Second,
		TraceUpdateInterval: opts.TraceUpdateInterval,
		ArtifactsDir:        opts.ArtifactsDir,
		OnChange:            sh.route,
	})
	if err != nil {
		return nil, err
	}
	return newEngine(opts, sh, "")
}

// newEngine builds the engine of a pipeline served by sh's coordinator.
func newEngine(opts EngineOptions, sh *shared, prefix string) (*Engine, error) {
	if prefix == "" {
		if err := checkPlay(opts.Pipeline, opts.Play); err != nil {
			return nil, err
		}
	}
	own, nested := splitPlay(opts.Pipeline, opts.Play)
	sched, err := NewScheduler(opts.Pipeline, own)
	if err != nil {
		return nil, err
	}
	if opts.ProgressInterval <= 0 {
		opts.ProgressInterval = 10 * time.Second
	}
	if opts.CancelGrace <= 0 {
		opts.CancelGrace = 30 * time.Second
	}
	e := &Engine{
		opts: opts, sched: sched, sh: sh, out: opts.Output, prefix: prefix,
		signal:   make(chan struct{}, 1),
		attempts: map[int64]*attempt{}, latest: map[string]*attempt{}, results: map[string]*JobResult{},
		bridges: newBridges(opts.Pipeline), childPlay: nested,
	}
	for _, j := range sched.Jobs() {
		e.results[j.Name] = &JobResult{Name: j.Name, Stage: j.Stage}
	}
	return e, nil
}

// Coordinator is the embedded coordinator; serve it under /api/v4.
func (e *Engine) Coordinator() *coordinator.Server { return e.sh.srv }

// Authorized reports whether token belongs to a job (of this pipeline or a child) that
// has not finished. Safe for concurrent use: the git server calls it.
func (e *Engine) Authorized(token string) bool { return e.sh.authorized(token) }

func (e *Engine) onChange(rec coordinator.Change) {
	e.mu.Lock()
	e.records = append(e.records, rec)
	e.mu.Unlock()
	select {
	case e.signal <- struct{}{}:
	default:
	}
}

// Run runs the pipeline to its end. When ctx ends it cancels the pipeline: jobs not
// started are canceled, running ones get a graceful cancel and, after CancelGrace, a
// forced one; Run still returns only once every job has ended.
func (e *Engine) Run(ctx context.Context) (Result, error) {
	start := time.Now()
	e.bridges.ctx = ctx
	if err := e.apply(e.sched.Next()); err != nil {
		return Result{}, err
	}
	progress := time.NewTicker(e.opts.ProgressInterval / 2)
	defer progress.Stop()
	done := ctx.Done()
	var force <-chan time.Time
	for e.sched.Active() || e.bridges.running > 0 {
		select {
		case <-e.signal:
			e.drain()
		case b := <-e.bridges.done:
			e.childEnded(b)
		case <-done:
			done = nil
			e.cancel(true)
			t := time.NewTimer(e.opts.CancelGrace)
			defer t.Stop()
			force = t.C
		case <-force:
			e.cancel(false)
		case <-progress.C:
			// A child's jobs show in the parent's line as its running bridge.
			if e.prefix == "" && e.out.Silent(e.opts.ProgressInterval) {
				e.out.Progress(time.Since(start), e.running(), e.waiting())
			}
		}
		if err := e.apply(e.sched.Next()); err != nil {
			e.cancel(false)
			return Result{}, err
		}
	}
	return e.result(time.Since(start)), nil
}

// cancel cancels the pipeline, and every job of it still pending or running.
func (e *Engine) cancel(graceful bool) {
	if graceful {
		_ = e.apply(e.sched.Cancel()) // cancelling starts nothing, so it cannot fail
	}
	for _, a := range e.attempts {
		if !a.done {
			e.sh.srv.Cancel(a.id, graceful)
		}
	}
	e.bridges.cancelAll() // each child cancels its own jobs, gracefully then at once
}

// apply reports the scheduler's transitions and enqueues the jobs that became pending.
func (e *Engine) apply(ts []Transition) error {
	for _, t := range ts {
		r := e.results[t.Name]
		r.Status, r.Note = t.Status, t.Note
		if t.Status != StatusPending {
			e.out.State(e.label(t.Name), string(t.Status), t.Note)
			continue
		}
		j := e.sched.Job(t.Name)
		r.Attempts = t.Attempt
		if j.Trigger != nil {
			e.startChild(j)
			continue
		}
		deps, dotenv, missing := e.dependencies(j)
		if missing != "" {
			// As GitLab, which fails such a job before a runner gets it.
			e.endedUnrun(t.Name, Outcome{Status: StatusFailed, Reason: reasonMissingDependency}, missing)
			continue
		}
		a, err := e.enqueue(j, deps, dotenv)
		if err != nil {
			return err
		}
		r.JobIDs = append(r.JobIDs, a.id)
		detail := fmt.Sprintf("job #%d", a.id)
		if t.Attempt > 1 {
			detail += fmt.Sprintf(", attempt %d", t.Attempt)
		}
		e.out.State(e.label(t.Name), string(StatusPending), detail)
	}
	if e.again {
		// A job ended here, not on the runner: the jobs after it are ready now, with no
		// coordinator event to wake the loop.
		e.again = false
		return e.apply(e.sched.Next())
	}
	return nil
}

func (e *Engine) enqueue(j *compiler.Job, deps []jobspec.Dependency, dotenv []compiler.Var) (*attempt, error) {
	name := j.Name
	a := &attempt{name: name, token: "glcbt-" + rand.Text()}
	a.id = e.sh.register(e, a.token)
	payload, err := JobPayload(j, e.opts.Env, a.id, a.token, deps, dotenv)
	if err != nil {
		return nil, err
	}
	e.attempts[a.id], e.latest[name] = a, a
	// Tags are not passed on: the one local runner takes every job.
	e.sh.srv.Enqueue(payload, nil)
	return a, nil
}

// drain handles the records the coordinator reported since the last call.
func (e *Engine) drain() {
	e.mu.Lock()
	recs := e.records
	e.records = nil
	e.mu.Unlock()
	for _, rec := range recs {
		e.handle(rec)
	}
}

func (e *Engine) handle(rec coordinator.Change) {
	a := e.attempts[rec.ID]
	if a == nil || a.done {
		return
	}
	if len(rec.Appended) > 0 {
		e.out.Log(e.label(a.name), rec.Appended)
	}
	if rec.Status == a.status {
		return
	}
	a.status = rec.Status
	switch rec.Status {
	case coordinator.StatusRunning:
		e.sched.Running(a.name)
		e.out.State(e.label(a.name), string(StatusRunning), "")
	case coordinator.StatusCanceling:
		e.out.State(e.label(a.name), "canceling", "")
	case coordinator.StatusSuccess, coordinator.StatusFailed, coordinator.StatusCanceled:
		e.finish(a, rec.JobRecord)
	}
}

func (e *Engine) finish(a *attempt, rec coordinator.JobRecord) {
	a.done = true
	e.out.EndLog(e.label(a.name))
	o := Outcome{Status: Status(rec.Status), Reason: rec.FailureReason}
	if rec.ExitCode != nil {
		o.ExitCode = *rec.ExitCode
	}
	o = e.collect(a, rec, o)
	r := e.results[a.name]
	if !rec.StartedAt.IsZero() && !rec.FinishedAt.IsZero() {
		r.Duration += rec.FinishedAt.Sub(rec.StartedAt)
	}
	r.FailureReason, r.ExitCode = o.Reason, o.ExitCode
	retried := e.sched.Finished(a.name, o)
	st := e.stateOf(a.name)
	r.Status, r.AllowedFailure = st.Status, st.AllowedFailure
	detail := describeOutcome(o, st.AllowedFailure)
	if retried {
		detail += ", retrying"
	}
	e.out.State(e.label(a.name), string(o.Status), detail)
}
