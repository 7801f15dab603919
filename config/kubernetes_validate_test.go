package config

import (
	"strings"
	"testing"
)

// Moved from the executor with the checks: Kubernetes' own types (quantities, label keys,
// the affinity, the patches) are checked here, once, with relative keys that Config.Validate
// places in the file.
func TestKubernetesValidateKubernetesTypes(t *testing.T) {
	tests := []struct {
		name    string
		k       Kubernetes
		wantErr string
	}{
		{"bad quantity", Kubernetes{Build: Resources{CPURequest: "lots"}}, `build.cpu_request: "lots" is not a Kubernetes quantity`},
		{"bad buildkit quantity", Kubernetes{BuildKit: BuildKit{Resources: Resources{MemoryLimitMaxAllowed: "1 GB"}}}, `buildkit.resources.memory_limit_max_allowed: "1 GB" is not a Kubernetes quantity`},
		{"affinity typo", Kubernetes{Affinity: map[string]any{"nodeAfinity": map[string]any{}}}, `affinity: unknown field "nodeAfinity"`},
		{"patch not yaml", Kubernetes{PodSpecPatches: []PodSpecPatch{{Name: "x", Patch: "a: [b"}}}, "pod_spec_patches[0].patch: not YAML or JSON"},
		{"patch adds unknown field", Kubernetes{PodSpecPatches: []PodSpecPatch{{Name: "x", Type: "merge", Patch: "hostnetwork: true"}}}, `unknown field "hostnetwork"`},
		{"bad label key", Kubernetes{PodLabels: map[string]string{"a b": "c"}}, `pod_labels.a b: "a b" is not a label key`},
		{"toleration Exists with a value", Kubernetes{Tolerations: []Toleration{{Key: "k", Operator: "Exists", Value: "v"}}}, `tolerations[0].value: operator Exists takes no value`},
		{"bad pull policy", Kubernetes{PullPolicy: "sometimes"}, `pull_policy: "sometimes" is not one of`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := withDefaults(tc.k)
			err := k.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Validate error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestKubernetesValidAcceptsKubernetesTypes(t *testing.T) {
	k := withDefaults(Kubernetes{
		Build:          Resources{CPURequest: "500m", MemoryLimit: "1Gi", CPULimitMaxAllowed: "2"},
		PodLabels:      map[string]string{"example.com/team": "ci"},
		Tolerations:    []Toleration{{Key: "k", Operator: "Exists"}},
		Affinity:       map[string]any{"nodeAffinity": map[string]any{}},
		PodSpecPatches: []PodSpecPatch{{Name: "host", Patch: "containers: [{name: build, tty: true}]"}},
		PullPolicy:     "never",
	})
	if err := k.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if got := KubePullPolicy(k.PullPolicy); got != "Never" {
		t.Errorf("KubePullPolicy(%q) = %q, want Never", k.PullPolicy, got)
	}
}
