package coordinator

import (
	"slices"

	"github.com/kuberunner/kuberunner/jobspec"
)

// traceSizeExceeded is the reason GitLab gives a job whose trace passed the size limit.
const traceSizeExceeded jobspec.FailureReason = "trace_size_exceeded"

// knownFailureReasons are the values of GitLab's failure_reason enum (Ci::Build): the ones
// a runner reports and the ones GitLab sets itself. A PUT with any other value gets 400.
var knownFailureReasons = []jobspec.FailureReason{
	jobspec.UnknownFailure,
	jobspec.ScriptFailure,
	"api_failure",
	"stuck_or_timeout_failure",
	jobspec.RunnerSystemFailure,
	"missing_dependency_failure",
	jobspec.RunnerUnsupported,
	jobspec.StaleSchedule,
	jobspec.JobExecutionTimeout,
	jobspec.ArchivedFailure,
	"unmet_prerequisites",
	"scheduler_failure",
	jobspec.DataIntegrityFailure,
	"forward_deployment_failure",
	"user_blocked",
	"project_deleted",
	"ci_quota_exceeded",
	"pipeline_loop_detected",
	"no_matching_runner",
	traceSizeExceeded,
	"builds_disabled",
	"environment_creation_failure",
	"deployment_rejected",
	"failed_outdated_deployment_job",
	jobspec.RunnerConfigurationError,
	jobspec.ImagePullFailure,
}

// KnownFailureReasons returns every failure reason GitLab knows, the list Enqueue puts in
// a job's features.failure_reasons when it has none.
func KnownFailureReasons() []jobspec.FailureReason { return slices.Clone(knownFailureReasons) }

func knownFailureReason(r string) bool {
	return slices.Contains(knownFailureReasons, jobspec.FailureReason(r))
}
