package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestRunnerLinksNeitherPodSideNorAllAPIGroups: an idle runner's memory is mostly the pages
// of its binary that package initialisation touches (make rss-report), so the runner keeps
// out what only job pods need (the BuildKit client, in cmd/kuberunner-agent) and client-go's
// whole clientset and informer factory (every API group's client; the executor builds the
// few it calls).
func TestRunnerLinksNeitherPodSideNorAllAPIGroups(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	// Each of these and everything under it; client-go/kubernetes alone is the clientset,
	// its typed/... subpackages the few groups' clients.
	trees := []string{
		"github.com/kuberunner/kuberunner/buildkit/builder", "github.com/moby/buildkit",
		"github.com/docker/cli", "github.com/google/go-containerregistry", "k8s.io/client-go/informers",
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "k8s.io/client-go/kubernetes" {
			t.Errorf("the runner links %s", pkg)
		}
		for _, tree := range trees {
			if pkg == tree || strings.HasPrefix(pkg, tree+"/") {
				t.Errorf("the runner links %s", pkg)
			}
		}
	}
}
