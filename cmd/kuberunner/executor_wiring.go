package main

import (
	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/executor"
	"github.com/kuberunner/kuberunner/runner"
)

// newExecutor builds the Kubernetes executor for one runner entry.
func newExecutor(rc config.Runner) (runner.Executor, error) {
	return executor.NewKubernetes(rc, executor.Options{
		Runner: executor.RunnerInfo{Version: version, Revision: revision},
	})
}
