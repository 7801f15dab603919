package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/gitlab"
)

// envs lists the environment variables a flag reads: kuberunner's own name first, then the
// gitlab-runner name a GitLab Runner user may already have in their manifests.
func envs(names ...string) cli.ValueSourceChain { return cli.EnvVars(names...) }

func configFlag() cli.Flag {
	return &cli.StringFlag{
		Name:    "config",
		Aliases: []string{"c"},
		Usage:   "configuration file",
		Value:   config.DefaultPath,
		Sources: envs("KUBERUNNER_CONFIG", "CONFIG_FILE"),
	}
}

// podNameEnv names the runner's own pod when it runs as one (the downward API in
// manifests/base/deployment.yaml): its replica identity and its system_id derive from it.
const podNameEnv = "KUBERUNNER_POD_NAME"

// namespaceFile is where Kubernetes tells a pod its namespace; a variable for tests.
var namespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// loadSystemID is this runner manager's system_id: in a pod, derived from the pod's
// namespace and name, which Kubernetes keeps for the pod's life, so nothing is written to a
// config directory that may be read-only; elsewhere, the file beside the config.
func loadSystemID(configPath string) (string, error) {
	if pod := os.Getenv(podNameEnv); pod != "" {
		ns, _ := os.ReadFile(namespaceFile) // no service account token mounted: no namespace
		return gitlab.PodSystemID(strings.TrimSpace(string(ns)), pod), nil
	}
	return gitlab.LoadOrCreateSystemID(systemIDPath(configPath))
}

// systemIDPath keeps the system_id beside the config file, as gitlab-runner does, so one
// manager keeps its identity across restarts.
func systemIDPath(configPath string) string {
	return filepath.Join(filepath.Dir(configPath), ".runner_system_id")
}
