package main

import (
	"errors"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/runner"
)

// newExecutor builds the executor for one runner entry.
func newExecutor(rc config.Runner) (runner.Executor, error) {
	return nil, errors.New("runner " + rc.Name + ": the kubernetes executor is not available in this build yet")
}
