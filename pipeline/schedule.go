package pipeline

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kuberunner/kuberunner/pipeline/compiler"
)

// Scheduler decides, by GitLab's rules, which jobs of a compiled pipeline run, wait, are
// skipped or retried, given the outcomes so far. It mirrors GitLab's atomic processing
// service: a job whose prerequisites (every job of the earlier stages, or its needs) are
// complete runs when their composite status suits its `when`, and is skipped otherwise.
// It does no I/O and is not safe for concurrent use.
type Scheduler struct {
	stages   []string
	jobs     []*jobState // stage order, then file order
	byName   map[string]*jobState
	play     map[string]bool
	groups   map[string]string // resource group -> the job holding it
	canceled bool
}

type jobState struct {
	job      *compiler.Job
	stage    int
	status   Status
	ready    bool // prerequisites met; starts as soon as its resource group is free
	attempts int
	outcome  Outcome // of the last attempt
	note     string  // why skipped, manual or waiting
}

// JobState is a job's place in the pipeline, as the Scheduler sees it.
type JobState struct {
	Name     string
	Stage    string
	Status   Status
	Attempts int // attempts started
	// AllowedFailure is set on a failed job whose failure does not fail the pipeline.
	AllowedFailure bool
	Outcome        Outcome // of the last attempt
	Note           string  // why it was skipped, or is manual or waiting
}

// Transition is one status change the Scheduler made.
type Transition struct {
	Name    string
	Status  Status
	Attempt int // for pending: which attempt starts (1 for the first)
	Note    string
}

// NewScheduler schedules p. play names manual (and delayed) jobs to run as if a user had
// played them; naming a job that is not in the pipeline is an error.
func NewScheduler(p *compiler.Pipeline, play []string) (*Scheduler, error) {
	s := &Scheduler{stages: p.Stages, byName: map[string]*jobState{}, play: map[string]bool{}, groups: map[string]string{}}
	for _, j := range p.Jobs {
		st := &jobState{job: j, stage: slices.Index(p.Stages, j.Stage), status: StatusCreated}
		s.jobs = append(s.jobs, st)
		s.byName[j.Name] = st
	}
	var unknown []string
	for _, name := range play {
		if s.byName[name] == nil {
			unknown = append(unknown, name)
		}
		s.play[name] = true
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("no job %s in this pipeline", strings.Join(unknown, ", "))
	}
	return s, nil
}

// Next moves every job whose prerequisites are complete on (to pending, manual or
// skipped), starts ready jobs whose resource group is free, and returns the changes in
// the order made. Jobs that become pending are the ones to hand to the coordinator. When
// nothing runs any more, jobs still waiting (behind a manual job nobody played) are skipped.
func (s *Scheduler) Next() []Transition {
	var out []Transition
	for changed := true; changed; {
		changed = false
		for _, j := range s.jobs {
			if j.status != StatusCreated || j.ready || s.canceled {
				continue
			}
			if t, ok := s.process(j); ok {
				out = append(out, t...)
				changed = true
			}
		}
	}
	out = append(out, s.startReady()...)
	if !s.Active() {
		for _, j := range s.jobs {
			if j.status == StatusCreated {
				out = append(out, s.set(j, StatusSkipped, "waits for a manual job that was not played"))
			}
		}
	}
	return out
}

// process decides one created job whose prerequisites may have completed.
func (s *Scheduler) process(j *jobState) ([]Transition, bool) {
	dag := j.job.Needs != nil
	prior := s.prerequisites(j)
	if !prior.Finished() {
		return nil, false
	}
	if !slices.Contains(validPrerequisites(j.job.When, dag), prior) {
		return []Transition{s.set(j, StatusSkipped, skipNote(j.job.When, prior))}, true
	}
	if (j.job.When == "manual" || j.job.When == "delayed") && !s.play[j.job.Name] {
		return []Transition{s.set(j, StatusManual, "not played: name it with --job to run it")}, true
	}
	j.ready = true
	return nil, true
}

// prerequisites is the composite status of the jobs j waits for: its needs, or every job
// of the earlier stages. Nothing to wait for counts as success.
func (s *Scheduler) prerequisites(j *jobState) Status {
	var deps []*jobState
	if j.job.Needs != nil {
		for _, n := range j.job.Needs {
			if d := s.byName[n.Job]; d != nil && n.Pipeline == "" { // a parent's job is not waited for
				deps = append(deps, d)
			}
		}
	} else {
		for _, d := range s.jobs {
			if d.stage < j.stage {
				deps = append(deps, d)
			}
		}
	}
	st := composite(deps, j.job.Needs != nil)
	if st == "" {
		return StatusSuccess
	}
	return st
}

func skipNote(when string, prior Status) string {
	switch when {
	case "on_failure":
		return "when: on_failure, and nothing before it failed"
	case "always":
		return "earlier jobs were canceled"
	}
	return "earlier jobs " + map[Status]string{StatusFailed: "failed", StatusSkipped: "did not run", StatusCanceled: "were canceled"}[prior]
}

// startReady makes ready jobs pending, at most one per resource group at a time, in
// pipeline order.
func (s *Scheduler) startReady() []Transition {
	var out []Transition
	for _, j := range s.jobs {
		if !j.ready || s.canceled {
			continue
		}
		if g := j.job.ResourceGroup; g != "" {
			if holder, busy := s.groups[g]; busy {
				if j.status != StatusWaitingForResource {
					out = append(out, s.set(j, StatusWaitingForResource, "resource_group "+g+" is held by "+holder))
				}
				continue
			}
			s.groups[g] = j.job.Name
		}
		j.ready = false
		j.attempts++
		t := s.set(j, StatusPending, "")
		t.Attempt = j.attempts
		out = append(out, t)
	}
	return out
}

func (s *Scheduler) set(j *jobState, st Status, note string) Transition {
	j.status, j.note = st, note
	return Transition{Name: j.job.Name, Status: st, Note: note}
}

// Running records that the coordinator saw the job start.
func (s *Scheduler) Running(name string) {
	if j := s.byName[name]; j != nil && j.status == StatusPending {
		j.status = StatusRunning
	}
}

// Finished records how the current attempt of a pending or running job ended. It reports
// whether the job is retried (the next Next starts a new attempt), as retry:max, when and
// exit_codes say. A job that is not pending or running is left alone.
func (s *Scheduler) Finished(name string, o Outcome) (retried bool) {
	j := s.byName[name]
	if j == nil || (j.status != StatusPending && j.status != StatusRunning) {
		return false
	}
	if s.groups[j.job.ResourceGroup] == name {
		delete(s.groups, j.job.ResourceGroup)
	}
	j.outcome = o
	if o.Status == StatusFailed && !s.canceled && shouldRetry(j.job.Retry, o, j.attempts) {
		j.status, j.ready, j.note = StatusCreated, true, ""
		return true
	}
	j.status, j.note = o.Status, ""
	return false
}

// shouldRetry is GitLab's Ci::Build#retry_failure? for a job's retry keyword: fewer
// retries than max so far, a reason listed in when (default always), and an exit code
// listed in exit_codes when there are any.
func shouldRetry(r compiler.Retry, o Outcome, attempts int) bool {
	if r.Max <= 0 || attempts-1 >= r.Max {
		return false
	}
	reasonOK := len(r.When) == 0 || slices.Contains(r.When, "always") || slices.Contains(r.When, string(o.Reason))
	exitOK := len(r.ExitCodes) == 0 || slices.Contains(r.ExitCodes, o.ExitCode)
	return reasonOK && exitOK
}

// Cancel cancels the pipeline as GitLab does: jobs not started yet are canceled, failed
// attempts are no longer retried, manual jobs stay manual. It returns the changes made;
// jobs still pending or running must be cancelled through the coordinator, and reported
// with Finished as they end.
func (s *Scheduler) Cancel() []Transition {
	s.canceled = true
	var out []Transition
	for _, j := range s.jobs {
		if j.status == StatusCreated || j.status == StatusWaitingForResource {
			j.ready = false
			out = append(out, s.set(j, StatusCanceled, "the pipeline was canceled"))
		}
	}
	return out
}

// Active reports whether a job is pending or running.
func (s *Scheduler) Active() bool {
	return slices.ContainsFunc(s.jobs, func(j *jobState) bool {
		return j.status == StatusPending || j.status == StatusRunning
	})
}

// Jobs returns every job's state, in pipeline order.
func (s *Scheduler) Jobs() []JobState {
	out := make([]JobState, len(s.jobs))
	for i, j := range s.jobs {
		out[i] = JobState{
			Name: j.job.Name, Stage: j.job.Stage, Status: j.status, Attempts: j.attempts,
			AllowedFailure: j.status == StatusFailed && j.allowedToFail(),
			Outcome:        j.outcome, Note: j.note,
		}
	}
	return out
}

// Job returns the compiled job called name, or nil.
func (s *Scheduler) Job(name string) *compiler.Job {
	if j := s.byName[name]; j != nil {
		return j.job
	}
	return nil
}

// Composite is the pipeline's status as GitLab composes it from its jobs once they
// ended: success, failed, canceled, skipped (nothing ran), or manual (blocked by a manual
// job not played).
func (s *Scheduler) Composite() Status {
	return composite(s.jobs, false)
}

// Status is the pipeline's status: failed when a job failed without being allowed to,
// canceled when the pipeline or a job was canceled, running while jobs run, else success.
func (s *Scheduler) Status() Status {
	for _, j := range s.jobs {
		if j.status == StatusFailed && !j.allowedToFail() {
			return StatusFailed
		}
	}
	switch {
	case s.Active():
		return StatusRunning
	case s.canceled || composite(s.jobs, false) == StatusCanceled:
		return StatusCanceled
	}
	return StatusSuccess
}
