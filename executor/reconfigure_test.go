package executor

import (
	"strings"
	"testing"

	"github.com/kuberunner/kuberunner/config"
)

// TestReconfigure: new settings reach the jobs started after, a section that does not
// compile or moves the executor elsewhere is refused and the settings in force stay.
func TestReconfigure(t *testing.T) {
	h := newHarness(t, 0)
	k := h.exec
	before := k.jobs.Load()
	rc := config.Runner{Name: "r1", Kubernetes: config.Kubernetes{
		Namespace: "ci", HelperImage: "helper:2", Image: "alpine:3",
		Deploy: []config.Deploy{{Environment: "production", Namespace: "prod"}},
	}}
	if err := k.Reconfigure(rc); err != nil {
		t.Fatalf("Reconfigure: %v", err)
	}
	got := k.jobs.Load()
	if got.HelperImage != "helper:2" || got.DefaultImage != "alpine:3" || got.Manager != before.Manager || got.Runner != before.Runner {
		t.Errorf("jobs' settings after Reconfigure: %+v", got)
	}
	if before.HelperImage != "helper:1" {
		t.Errorf("the settings a running job holds changed: helper %q", before.HelperImage)
	}
	if ns := k.sweptNamespaces(); len(ns) != 1 || ns[0] != "prod" {
		t.Errorf("swept namespaces %v, want [prod]", ns)
	}

	for name, edit := range map[string]func(*config.Runner){
		"namespace": func(rc *config.Runner) { rc.Kubernetes.Namespace = "other" },
		"context":   func(rc *config.Runner) { rc.Kubernetes.Context = "kind" },
		"invalid":   func(rc *config.Runner) { rc.Kubernetes.PullPolicy = "sometimes" },
	} {
		bad := rc
		edit(&bad)
		if err := k.Reconfigure(bad); err == nil || !strings.Contains(err.Error(), "r1") {
			t.Errorf("%s: Reconfigure = %v, want an error naming the runner", name, err)
		}
		if k.jobs.Load() != got {
			t.Errorf("%s: a refused Reconfigure changed the settings", name)
		}
	}
}
