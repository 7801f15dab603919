package main

import (
	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/executor"
	"github.com/kuberunner/kuberunner/runner"
)

// The runner adopts the jobs of pods a stopped runner process left, through the executor.
var _ runner.Adopter = (*executor.Kubernetes)(nil)

// newExecutor builds the Kubernetes executor for one runner entry.
func newExecutor(rc config.Runner) (runner.Executor, error) {
	return executor.NewKubernetes(rc, executor.Options{
		Runner: executor.RunnerInfo{Version: version, Revision: revision},
	})
}

// apiServerURL is the URL of the API server the executor connects to, found as it finds
// it (the kubeconfig and context named, else in-cluster), or "" when there is none: the
// executor then reports why.
func apiServerURL(kc config.Kubernetes) string {
	cfg, err := executor.RESTConfig(kc)
	if err != nil {
		return ""
	}
	return cfg.Host
}
