package main

import (
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

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

// apiServerURL is the URL of the API server the executor connects to, found as it finds
// it (the kubeconfig and context named, else in-cluster), or "" when there is none: the
// executor then reports why.
func apiServerURL(kc config.Kubernetes) string {
	var cfg *rest.Config
	var err error
	if kc.Kubeconfig == "" && kc.Context == "" {
		cfg, err = rest.InClusterConfig()
	} else {
		rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: kc.Kubeconfig}
		if kc.Kubeconfig == "" {
			rules = clientcmd.NewDefaultClientConfigLoadingRules()
		}
		overrides := &clientcmd.ConfigOverrides{CurrentContext: kc.Context}
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	}
	if err != nil {
		return ""
	}
	return cfg.Host
}
