package metrics

import (
	"testing"

	"github.com/kuberunner/kuberunner/jobspec"
)

func TestLabelClamps(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"known endpoint", endpointLabel(EndpointPatchTrace, "patch"), "patch_trace"},
		{"route template", endpointLabel("jobs/:id", "put"), "update_job"},
		{"route template with slash", endpointLabel("/jobs/request", "post"), "request_job"},
		{"route decided by method", endpointLabel("jobs/:id/artifacts", "get"), "download_artifacts"},
		{"route and method that do not go together", endpointLabel("jobs/request", "get"), "other"},
		{"path with a job id", endpointLabel("/api/v4/jobs/4711/trace", "patch"), "other"},
		{"empty endpoint", endpointLabel("", "get"), "other"},
		{"method lower-cased", methodLabel("PATCH"), "patch"},
		{"unknown method", methodLabel("BREW"), "other"},
		{"status", statusLabel(404), "404"},
		{"no response", statusLabel(0), "0"},
		{"negative status", statusLabel(-100), "0"},
		{"status beyond HTTP", statusLabel(1000), "0"},
		{"status class", statusClass(503), "5xx"},
		{"status class of no response", statusClass(0), "unknown"},
		{"known reason", failureReasonLabel(jobspec.ImagePullFailure), "image_pull_failure"},
		{"every constant is known", failureReasonLabel(jobspec.DataIntegrityFailure), "data_integrity_failure"},
		{"free-form reason", failureReasonLabel("pod evicted: node pressure"), "unknown_failure"},
		{"slog warn", levelLabel("WARN"), "warning"},
		{"error", levelLabel("error"), "error"},
		{"fatal", levelLabel("fatal"), "fatal"},
		{"unknown level", levelLabel("info"), "error"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}
