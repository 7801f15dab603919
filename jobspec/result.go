package jobspec

// Result is how a job ended, as the executor saw it. A zero Reason means success.
// Err carries the message for the trace (already free of secrets); it is not sent to GitLab.
type Result struct {
	Reason   FailureReason
	ExitCode int
	Err      error
}

func (r Result) Success() bool { return r.Reason == FailureNone }
