package executor

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/config"
)

// The checks themselves are config.Kubernetes.Validate's (config/kubernetes_validate_test.go);
// NewPodConfig refuses a section built in code that never went through them.
func TestNewPodConfigRefusesBadConfig(t *testing.T) {
	_, err := NewPodConfig(config.Kubernetes{Build: config.Resources{CPURequest: "lots"}}, testRunner())
	if want := `build.cpu_request: "lots" is not a Kubernetes quantity`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("NewPodConfig error = %v, want it to contain %q", err, want)
	}
}

func TestServiceAliases(t *testing.T) {
	tests := []struct {
		alias, image string
		want         []string
	}{
		{"", "postgres:16", []string{"postgres"}},
		{"", "tutum/wordpress:latest", []string{"tutum-wordpress"}},
		{"", "registry.example.com:5000/group/mysql@sha256:00", []string{"registry.example.com-5000-group-mysql"}},
		{"db  cache,DB", "redis", []string{"db", "cache"}},
		{"bad_alias", "redis", nil},
	}
	for _, tc := range tests {
		if d := cmp.Diff(tc.want, serviceAliases(tc.alias, tc.image)); d != "" {
			t.Errorf("serviceAliases(%q, %q) -want +got:\n%s", tc.alias, tc.image, d)
		}
	}
}

func TestLabelValue(t *testing.T) {
	for in, want := range map[string]string{
		"k8s runner #1":          "k8s-runner-1",
		"-x-":                    "x",
		strings.Repeat("a", 70):  strings.Repeat("a", 63),
		"group/sub/project.name": "group-sub-project.name",
	} {
		if got := labelValue(in); got != want {
			t.Errorf("labelValue(%q) = %q, want %q", in, got, want)
		}
	}
}
