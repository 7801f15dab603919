package jobspec

import "errors"

// Result is how a job ended, as the executor saw it. A zero Reason means success.
// Err carries the message for the trace (already free of secrets); it is not sent to GitLab.
type Result struct {
	Reason   FailureReason
	ExitCode int
	Err      error
}

func (r Result) Success() bool { return r.Reason == FailureNone }

// ErrLeftToPod is the cause of a job context ended because the runner is going away and
// leaves the job to its pod, which ships the trace and reports the final state itself; a
// runner that starts later adopts the pod. An executor that sees it returns at once and
// leaves the pod alone; its Result is not reported.
var ErrLeftToPod = errors.New("the runner left the job to its pod")
