package pipeline

import (
	"fmt"
	"time"

	"github.com/kuberunner/kuberunner/jobspec"
)

// Result is how a local pipeline ended.
type Result struct {
	PipelineID int64
	Status     Status // success, failed or canceled
	Duration   time.Duration
	Jobs       []JobResult // pipeline order
}

// Passed reports whether the pipeline succeeded: no job failed without allow_failure and
// nothing was canceled.
func (r Result) Passed() bool { return r.Status == StatusSuccess }

// JobResult is one job's end.
type JobResult struct {
	Name, Stage    string
	Status         Status
	AllowedFailure bool
	Attempts       int
	Duration       time.Duration // of every attempt, from start to end
	FailureReason  jobspec.FailureReason
	ExitCode       int
	Note           string // why it was skipped or is manual
	// JobIDs are the coordinator's IDs of the attempts, in order.
	JobIDs []int64
}

// Describe is the status as the final table shows it: "failed (allowed)", "failed:
// script_failure, exit code 2", "success after 2 attempts", "skipped: earlier jobs failed".
func (j JobResult) Describe() string {
	s := string(j.Status)
	switch {
	case j.Status == StatusFailed && j.AllowedFailure:
		s += " (allowed)"
	case j.Status == StatusFailed && j.ExitCode != 0:
		s += fmt.Sprintf(": %s, exit code %d", j.FailureReason, j.ExitCode)
	case j.Status == StatusFailed:
		s += ": " + string(j.FailureReason)
	case j.Note != "":
		s += ": " + j.Note
	}
	if j.Attempts > 1 {
		s += fmt.Sprintf(" after %d attempts", j.Attempts)
	}
	return s
}

func describeOutcome(o Outcome, allowed bool) string {
	var d string
	if o.Reason != "" {
		d = string(o.Reason)
		if o.ExitCode != 0 {
			d += fmt.Sprintf(", exit code %d", o.ExitCode)
		}
	}
	if allowed {
		d += ", allowed to fail"
	}
	return d
}

func (e *Engine) stateOf(name string) JobState {
	for _, s := range e.sched.Jobs() {
		if s.Name == name {
			return s
		}
	}
	return JobState{}
}

func (e *Engine) running() []string {
	var out []string
	for _, s := range e.sched.Jobs() {
		if s.Status == StatusRunning || s.Status == StatusPending {
			out = append(out, s.Name)
		}
	}
	return out
}

func (e *Engine) waiting() int {
	n := 0
	for _, s := range e.sched.Jobs() {
		if s.Status == StatusCreated || s.Status == StatusWaitingForResource {
			n++
		}
	}
	return n
}

func (e *Engine) result(d time.Duration) Result {
	res := Result{PipelineID: e.opts.Env.PipelineID, Status: e.sched.Status(), Duration: d}
	for _, s := range e.sched.Jobs() {
		r := *e.results[s.Name]
		r.Status, r.AllowedFailure, r.Attempts, r.Note = s.Status, s.AllowedFailure, s.Attempts, s.Note
		res.Jobs = append(res.Jobs, r)
	}
	res.Jobs = e.withChildren(res.Jobs)
	return res
}
