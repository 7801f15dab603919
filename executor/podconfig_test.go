package executor

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/config"
)

func TestNewPodConfigRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name    string
		k       config.Kubernetes
		wantErr string
	}{
		{"bad quantity", config.Kubernetes{Build: config.Resources{CPURequest: "lots"}}, `build: cpu_request: "lots" is not a Kubernetes quantity`},
		{"affinity typo", config.Kubernetes{Affinity: map[string]any{"nodeAfinity": map[string]any{}}}, `affinity: unknown field "nodeAfinity"`},
		{"patch not yaml", config.Kubernetes{PodSpecPatches: []config.PodSpecPatch{{Name: "x", Patch: "a: [b"}}}, "pod_spec_patches[0] (x): not YAML or JSON"},
		{"patch adds unknown field", config.Kubernetes{PodSpecPatches: []config.PodSpecPatch{{Name: "x", Type: "merge", Patch: "hostnetwork: true"}}}, `unknown field "hostnetwork"`},
		{"bad label key", config.Kubernetes{PodLabels: map[string]string{"a b": "c"}}, `pod_labels: "a b"`},
		{"bad pull policy", config.Kubernetes{PullPolicy: "sometimes"}, `pull_policy: "sometimes" is not one of`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewPodConfig(tc.k, testRunner())
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("NewPodConfig error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
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
