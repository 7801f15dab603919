package metrics

import (
	"strconv"
	"strings"

	"github.com/kuberunner/kuberunner/jobspec"
)

// Endpoints of the coordination API, the values of the endpoint label. The first four
// are gitlab-runner's own names. ObserveAPIRequest also accepts the route templates
// ("jobs/:id/trace"); anything else is recorded as EndpointOther.
const (
	EndpointRequestJob       = "request_job"
	EndpointUpdateJob        = "update_job"
	EndpointPatchTrace       = "patch_trace"
	EndpointResetToken       = "reset_token"
	EndpointVerifyRunner     = "verify_runner"
	EndpointRegisterRunner   = "register_runner"
	EndpointUnregisterRunner = "unregister_runner"
	EndpointUnregisterSystem = "unregister_runner_manager"
	EndpointUploadArtifacts  = "upload_artifacts"
	EndpointDownloadArtifact = "download_artifacts"
	EndpointOther            = "other"
)

var endpoints = set(EndpointRequestJob, EndpointUpdateJob, EndpointPatchTrace, EndpointResetToken,
	EndpointVerifyRunner, EndpointRegisterRunner, EndpointUnregisterRunner, EndpointUnregisterSystem,
	EndpointUploadArtifacts, EndpointDownloadArtifact)

// methods are lower-cased, as gitlab-runner records them.
var methods = set("get", "head", "post", "put", "patch", "delete")

var failureReasons = set(
	string(jobspec.ScriptFailure), string(jobspec.RunnerSystemFailure),
	string(jobspec.JobExecutionTimeout), string(jobspec.ImagePullFailure),
	string(jobspec.UnknownFailure), string(jobspec.RunnerConfigurationError),
	string(jobspec.RunnerUnsupported), string(jobspec.StaleSchedule),
	string(jobspec.ArchivedFailure), string(jobspec.DataIntegrityFailure),
)

// errorLevels are gitlab-runner's values of gitlab_runner_errors_total's level label.
var errorLevels = set("warning", "error", "fatal", "panic")

func set(vs ...string) map[string]bool {
	m := make(map[string]bool, len(vs))
	for _, v := range vs {
		m[v] = true
	}
	return m
}

// routes maps the coordination API's route templates, as the gitlab package names its
// requests ("jobs/:id/trace"), and the method to gitlab-runner's endpoint names.
var routes = map[[2]string]string{
	{"jobs/request", "post"}:                       EndpointRequestJob,
	{"jobs/:id", "put"}:                            EndpointUpdateJob,
	{"jobs/:id/trace", "patch"}:                    EndpointPatchTrace,
	{"jobs/:id/artifacts", "post"}:                 EndpointUploadArtifacts,
	{"jobs/:id/artifacts", "get"}:                  EndpointDownloadArtifact,
	{"runners", "post"}:                            EndpointRegisterRunner,
	{"runners", "delete"}:                          EndpointUnregisterRunner,
	{"runners/verify", "post"}:                     EndpointVerifyRunner,
	{"runners/managers", "delete"}:                 EndpointUnregisterSystem,
	{"runners/reset_authentication_token", "post"}: EndpointResetToken,
}

// endpointLabel accepts an Endpoint constant or a route template; anything else (a raw
// path with a job id in it, say) is EndpointOther.
func endpointLabel(e, method string) string {
	if endpoints[e] {
		return e
	}
	if name, ok := routes[[2]string{strings.TrimPrefix(e, "/"), method}]; ok {
		return name
	}
	return EndpointOther
}

func methodLabel(m string) string {
	m = strings.ToLower(m)
	if methods[m] {
		return m
	}
	return "other"
}

// statusLabel is the numeric HTTP status; "0" when no response came back (a refused
// connection, a timeout), which gitlab-runner does not count at all.
func statusLabel(code int) string {
	if code < 100 || code > 599 {
		return "0"
	}
	return strconv.Itoa(code)
}

// statusClass is gitlab-runner's status_class label of the request duration histogram.
func statusClass(code int) string {
	if code < 100 || code > 599 {
		return "unknown"
	}
	return strconv.Itoa(code/100) + "xx"
}

func failureReasonLabel(r jobspec.FailureReason) string {
	if failureReasons[string(r)] {
		return string(r)
	}
	return string(jobspec.UnknownFailure)
}

// levelLabel maps slog's "warn" to gitlab-runner's "warning"; unknown levels count as errors.
func levelLabel(l string) string {
	l = strings.ToLower(l)
	if l == "warn" {
		return "warning"
	}
	if errorLevels[l] {
		return l
	}
	return "error"
}
