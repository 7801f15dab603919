package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/coordinator/coordinatortest"
	"github.com/kuberunner/kuberunner/gitlab"
)

// inPod makes the process look like pod name in namespace ns ("": no namespace file).
func inPod(t *testing.T, ns, name string) {
	t.Helper()
	t.Setenv(podNameEnv, name)
	old := namespaceFile
	namespaceFile = filepath.Join(t.TempDir(), "namespace")
	t.Cleanup(func() { namespaceFile = old })
	if ns != "" {
		if err := os.WriteFile(namespaceFile, []byte(ns+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSystemIDInAPod: in a pod, register and verify present the system_id derived from the
// pod's namespace and name, and write none beside the config (a read-only Secret mount).
func TestSystemIDInAPod(t *testing.T) {
	inPod(t, "ci", "kuberunner-7d9f8-aaaaa")
	srv, url := coordinatortest.Start(t, coordinator.Options{})
	token := srv.AddRunner(coordinator.RunnerSpec{RunUntagged: true})
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	if _, e, code := runCLI(t, "register", "--config", cfgPath, "--url", url, "--token", token, "--name", "r1"); code != 0 {
		t.Fatal(e)
	}
	if _, e, code := runCLI(t, "verify", "--config", cfgPath); code != 0 {
		t.Fatal(e)
	}
	want := []string{gitlab.PodSystemID("ci", "kuberunner-7d9f8-aaaaa")}
	if diff := cmp.Diff(want, srv.Runners()[0].SystemIDs); diff != "" {
		t.Errorf("system ids GitLab saw (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(systemIDPath(cfgPath)); !os.IsNotExist(err) {
		t.Errorf("a system id file was written in a pod: %v", err)
	}
}

// TestLoadSystemID: without a namespace file the pod's name alone; outside a pod, the file
// beside the config, created once.
func TestLoadSystemID(t *testing.T) {
	inPod(t, "", "kuberunner-7d9f8-aaaaa")
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	if id, err := loadSystemID(cfgPath); err != nil || id != gitlab.PodSystemID("", "kuberunner-7d9f8-aaaaa") {
		t.Errorf("in a pod without a namespace file: %q, %v", id, err)
	}
	t.Setenv(podNameEnv, "")
	var ids []string
	for range 2 {
		id, err := loadSystemID(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	stored, err := os.ReadFile(systemIDPath(cfgPath))
	if err != nil || ids[0] != ids[1] || ids[0] != strings.TrimSpace(string(stored)) {
		t.Errorf("outside a pod: ids %v, stored %q, %v", ids, stored, err)
	}
}
