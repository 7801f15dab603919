package jobspec

import "slices"

// FailureReason is GitLab's name for why a job failed, sent in the final PUT /jobs/:id.
type FailureReason string

const (
	FailureNone              FailureReason = ""
	ScriptFailure            FailureReason = "script_failure"
	RunnerSystemFailure      FailureReason = "runner_system_failure"
	JobExecutionTimeout      FailureReason = "job_execution_timeout"
	ImagePullFailure         FailureReason = "image_pull_failure"
	UnknownFailure           FailureReason = "unknown_failure"
	RunnerConfigurationError FailureReason = "runner_configuration_error"
	RunnerUnsupported        FailureReason = "runner_unsupported"
	StaleSchedule            FailureReason = "stale_schedule"
	ArchivedFailure          FailureReason = "archived_failure"
	DataIntegrityFailure     FailureReason = "data_integrity_failure"
)

// ReportableReason maps r to what the coordinator accepts: GitLab rejects reasons it does
// not list in the job's features.failure_reasons, so anything else becomes unknown_failure.
// A job that lists nothing (older servers) gets script_failure and unknown_failure only.
func (j *Job) ReportableReason(r FailureReason) FailureReason {
	if r == FailureNone {
		return r
	}
	supported := j.Features.FailureReasons
	if len(supported) == 0 {
		supported = []FailureReason{ScriptFailure, UnknownFailure}
	}
	if slices.Contains(supported, r) {
		return r
	}
	return UnknownFailure
}
