package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"

	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/pipeline/compiler"
)

// Failure reasons of a bridge job, as GitLab names them.
const (
	reasonChildNotCreated jobspec.FailureReason = "downstream_pipeline_creation_failed"
	reasonChildFailed     jobspec.FailureReason = "downstream_pipeline_failed"
	// reasonMissingDependency fails a job whose needed artifacts cannot be had.
	reasonMissingDependency jobspec.FailureReason = "missing_dependency_failure"
)

// shared is what the engines of one run (the pipeline and its child pipelines) share:
// the one coordinator the runner polls, its job IDs, and the tokens of unfinished jobs.
type shared struct {
	srv    *coordinator.Server
	mu     sync.Mutex
	nextID int64
	tokens map[string]bool   // tokens of jobs not finished: they may fetch the repository
	owners map[int64]*Engine // whose job each ID is
}

// register gives a new job of e its ID and lets its token fetch the repository.
func (s *shared) register(e *Engine, token string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.tokens[token], s.owners[s.nextID] = true, e
	return s.nextID
}

func (s *shared) authorized(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return token != "" && s.tokens[token]
}

// route hands a coordinator change to the engine whose job it is.
func (s *shared) route(rec coordinator.Change) {
	s.mu.Lock()
	owner := s.owners[rec.ID]
	if rec.Finished() {
		delete(s.tokens, rec.Job.Token)
	}
	s.mu.Unlock()
	if owner != nil {
		owner.onChange(rec)
	}
}

// bridges are an engine's running child pipelines; Run's goroutine only.
type bridges struct {
	ctx     context.Context
	done    chan childEnd
	running int
	cancels []context.CancelFunc
	results map[string]Result // by bridge name
}

type childEnd struct {
	bridge string
	res    Result
	err    error
	// status is the child pipeline's status as GitLab composes it from its jobs, which
	// strategy: mirror gives the bridge: it can be skipped or manual (blocked), which a
	// local run's result is not.
	status Status
}

func newBridges(p *compiler.Pipeline) bridges {
	// Buffered for every bridge, so that a child never blocks on a parent that gave up.
	n := 0
	for _, j := range p.Jobs {
		if j.Trigger != nil {
			n++
		}
	}
	return bridges{done: make(chan childEnd, n), results: map[string]Result{}}
}

func (b *bridges) cancelAll() {
	for _, c := range b.cancels {
		c()
	}
}

func (e *Engine) label(name string) string { return e.prefix + name }

// startChild runs the child pipeline of bridge j with this engine's coordinator and
// options, as GitLab creates it when the bridge's turn comes.
func (e *Engine) startChild(j *compiler.Job) {
	child, err := e.childEngine(j)
	if err != nil {
		e.endedUnrun(j.Name, Outcome{Status: StatusFailed, Reason: reasonChildNotCreated}, err.Error())
		return
	}
	e.sched.Running(j.Name)
	e.out.State(e.label(j.Name), string(StatusRunning), "child pipeline started")
	ctx, cancel := context.WithCancel(e.bridges.ctx)
	e.bridges.cancels = append(e.bridges.cancels, cancel)
	e.bridges.running++
	go func() {
		res, err := child.Run(ctx)
		e.bridges.done <- childEnd{bridge: j.Name, res: res, err: err, status: child.sched.Composite()}
	}()
	if j.Trigger.Strategy == "" {
		// Without a strategy the bridge succeeds once its child pipeline exists.
		e.endedUnrun(j.Name, Outcome{Status: StatusSuccess}, "")
	}
}

func (e *Engine) childEngine(j *compiler.Job) (*Engine, error) {
	p, err := e.childPipeline(j)
	if err != nil {
		return nil, err
	}
	if p.Filtered != "" {
		return nil, fmt.Errorf("the child pipeline was not created: %s", p.Filtered)
	}
	if e.opts.NewPipeline == nil {
		return nil, fmt.Errorf("the child pipeline was not created: the engine has no NewPipeline")
	}
	id, err := e.opts.NewPipeline()
	if err != nil {
		return nil, fmt.Errorf("create the child pipeline: %w", err)
	}
	opts := e.opts
	opts.Pipeline, opts.Play = p, e.childPlay[j.Name]
	if opts.JobsDir != "" {
		opts.JobsDir = filepath.Join(opts.JobsDir, j.Name)
	}
	opts.Env.PipelineID = id
	opts.Env.Predefined = withVar(opts.Env.Predefined, compiler.Var{Key: "CI_PIPELINE_SOURCE", Value: "parent_pipeline"})
	opts.Env.User = e.forwarded(j)
	child, err := newEngine(opts, e.sh, e.label(j.Name)+"/")
	if err != nil {
		return nil, err
	}
	child.parent = e.asParent()
	return child, nil
}

// forwarded are the child pipeline's pipeline variables, as trigger:forward says. The
// trigger job's own are expanded here, in the parent pipeline, as GitLab does: the
// usual PARENT_PIPELINE_ID: $CI_PIPELINE_ID is the parent's ID.
func (e *Engine) forwarded(j *compiler.Job) []compiler.Var {
	var out []compiler.Var
	if j.Trigger.Forward.YAMLVariables {
		_, dotenv, _ := e.dependencies(j)
		vars := jobVariables(j, e.opts.Env, 0, "", 0, dotenv).Expanded()
		for _, v := range j.Variables {
			if v.Expand {
				v = compiler.Var{Key: v.Key, Value: vars.Expand(v.Value)}
			}
			out = append(out, v)
		}
	}
	if j.Trigger.Forward.PipelineVariables {
		out = append(out, e.opts.Env.User...)
	}
	return out
}

func withVar(vars []compiler.Var, v compiler.Var) []compiler.Var {
	out := slices.DeleteFunc(slices.Clone(vars), func(o compiler.Var) bool { return o.Key == v.Key })
	return append(out, v)
}

// childEnded records a child pipeline's end; with a strategy its bridge takes the
// child's status: with depend success, canceled or failed, with mirror exactly.
func (e *Engine) childEnded(c childEnd) {
	e.bridges.running--
	e.bridges.results[c.bridge] = c.res
	j := e.sched.Job(c.bridge)
	switch {
	case j.Trigger.Strategy == "":
	case c.err != nil:
		e.endedUnrun(c.bridge, Outcome{Status: StatusFailed, Reason: reasonChildFailed}, c.err.Error())
	case j.Trigger.Strategy == "mirror" && c.status == StatusFailed:
		e.endedUnrun(c.bridge, Outcome{Status: StatusFailed, Reason: reasonChildFailed}, "")
	case j.Trigger.Strategy == "mirror":
		e.endedUnrun(c.bridge, Outcome{Status: c.status}, mirrorNotes[c.status])
	default:
		e.dependEnded(c)
	}
}

// mirrorNotes say what a mirrored status other than success or canceled means.
var mirrorNotes = map[Status]string{
	StatusManual:  "the child pipeline waits for a manual job that was not played",
	StatusSkipped: "the child pipeline ran no job",
}

// dependEnded gives a bridge with strategy: depend the status of its ended child.
func (e *Engine) dependEnded(c childEnd) {
	switch {
	case c.res.Status == StatusSuccess || c.res.Status == StatusCanceled:
		e.endedUnrun(c.bridge, Outcome{Status: c.res.Status}, "")
	default:
		e.endedUnrun(c.bridge, Outcome{Status: StatusFailed, Reason: reasonChildFailed}, "")
	}
}

// endedUnrun ends a job that no runner ran: a bridge, or a job that cannot start.
func (e *Engine) endedUnrun(name string, o Outcome, note string) {
	e.sched.Finished(name, o)
	st := e.stateOf(name)
	r := e.results[name]
	r.Status, r.AllowedFailure, r.FailureReason = st.Status, st.AllowedFailure, o.Reason
	detail := describeOutcome(o, st.AllowedFailure)
	if note != "" {
		detail += ": " + note
	}
	e.out.State(e.label(name), string(o.Status), detail)
	e.again = true
}

// withChildren lists each child pipeline's jobs after its bridge, named bridge/job.
func (e *Engine) withChildren(jobs []JobResult) []JobResult {
	var out []JobResult
	for _, j := range jobs {
		out = append(out, j)
		for _, c := range e.bridges.results[j.Name].Jobs {
			c.Name = j.Name + "/" + c.Name
			out = append(out, c)
		}
	}
	return out
}
