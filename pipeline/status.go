package pipeline

import (
	"slices"

	"github.com/kuberunner/kuberunner/jobspec"
)

// Status is a job's (or the pipeline's) status, as GitLab names it.
type Status string

const (
	StatusCreated            Status = "created" // waiting for earlier jobs
	StatusWaitingForResource Status = "waiting_for_resource"
	StatusPending            Status = "pending" // handed to the coordinator
	StatusRunning            Status = "running"
	StatusSuccess            Status = "success"
	StatusFailed             Status = "failed"
	StatusCanceled           Status = "canceled"
	StatusSkipped            Status = "skipped"
	StatusManual             Status = "manual" // a manual job nobody played
)

// Finished reports whether s is final for one attempt of a job.
func (s Status) Finished() bool {
	switch s {
	case StatusSuccess, StatusFailed, StatusCanceled, StatusSkipped:
		return true
	}
	return false
}

// Outcome is how one attempt of a job ended.
type Outcome struct {
	Status   Status // success, failed or canceled
	Reason   jobspec.FailureReason
	ExitCode int
}

// Keys of GitLab's composite status that are not job statuses.
const (
	keySuccessWithWarnings Status = "success_with_warnings"
	keyIgnored             Status = "ignored"
)

// compositeKey is how one job counts in a composite status: a failed or canceled job that
// may fail counts as success with warnings, a manual one that may fail is ignored.
func (j *jobState) compositeKey() Status {
	if j.allowedToFail() {
		switch j.status {
		case StatusFailed, StatusCanceled:
			return keySuccessWithWarnings
		case StatusManual:
			return keyIgnored
		}
	}
	return j.status
}

// allowedToFail is allow_failure as GitLab applies it: with exit_codes, only a failure with
// one of those codes is allowed.
func (j *jobState) allowedToFail() bool {
	if !j.job.AllowFailure {
		return false
	}
	if len(j.job.AllowFailureExitCodes) == 0 || j.status == StatusManual {
		return true
	}
	return j.status == StatusFailed && slices.Contains(j.job.AllowFailureExitCodes, j.outcome.ExitCode)
}

// composite is GitLab's Gitlab::Ci::Status::Composite#status: the status a set of jobs adds
// up to, order dependent exactly as there. dag is set when the set is a job's needs. It
// returns "" for no jobs.
func composite(jobs []*jobState, dag bool) Status {
	if len(jobs) == 0 {
		return ""
	}
	set := map[Status]bool{}
	for _, j := range jobs {
		set[j.compositeKey()] = true
	}
	has := func(keys ...Status) bool { return slices.ContainsFunc(keys, func(k Status) bool { return set[k] }) }
	only := func(keys ...Status) bool {
		n := 0
		for _, k := range keys {
			if set[k] {
				n++
			}
		}
		return n > 0 && n == len(set)
	}
	const warn, ign = keySuccessWithWarnings, keyIgnored
	switch {
	case dag && has(StatusSkipped, ign):
		return StatusSkipped // a need that does not run at all skips the job
	case dag && !only(StatusSuccess, StatusFailed, StatusCanceled, StatusSkipped, warn):
		return StatusPending // a need is not complete yet
	case only(StatusSkipped, ign):
		return StatusSkipped
	case only(StatusSuccess, StatusSkipped, warn, ign):
		return StatusSuccess
	case only(StatusCreated, warn, ign):
		return StatusCreated
	case only(StatusCanceled, StatusSuccess, StatusSkipped, warn, ign):
		return StatusCanceled
	case only(StatusPending, StatusCreated, StatusSkipped, warn, ign):
		return StatusPending
	case has(StatusRunning, StatusPending):
		return StatusRunning
	case has(StatusWaitingForResource):
		return StatusWaitingForResource
	case has(StatusManual):
		return StatusManual
	case has(StatusCreated):
		return StatusRunning
	default:
		return StatusFailed
	}
}

// validPrerequisites is GitLab's Ci::ProcessBuildService#valid_statuses_for_processable:
// the statuses of earlier (or needed) jobs under which a job with this `when` runs; under
// any other completed status it is skipped.
func validPrerequisites(when string, dag bool) []Status {
	switch when {
	case "on_success", "manual", "delayed", "":
		if dag {
			return []Status{StatusSuccess}
		}
		return []Status{StatusSuccess, StatusSkipped}
	case "on_failure":
		return []Status{StatusFailed}
	case "always":
		return []Status{StatusSuccess, StatusFailed, StatusSkipped}
	}
	return nil
}
