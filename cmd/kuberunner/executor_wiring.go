package main

import (
	"os"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/executor"
	"github.com/kuberunner/kuberunner/runner"
)

// The runner adopts the jobs of pods a stopped runner process left, through the executor.
var _ runner.Adopter = (*executor.Kubernetes)(nil)

// It deletes its replica's Lease when the runner closes it, so other replicas adopt at once.
var _ runner.Closer = (*executor.Kubernetes)(nil)

// newExecutor builds the Kubernetes executor for one runner entry of a process that is
// its runner's only one (a local pipeline): no replica Lease, no manager label.
func newExecutor(rc config.Runner) (runner.Executor, error) {
	return newKubernetes(rc, "")
}

// newReplicaExecutor builds it for `run`, which may be one of several replicas of one
// Deployment sharing a runner token: it keeps a Lease under its identity and leaves the
// pods of replicas whose Lease is fresh alone.
func newReplicaExecutor(rc config.Runner) (runner.Executor, error) {
	return newKubernetes(rc, replicaIdentity())
}

func newKubernetes(rc config.Runner, identity string) (runner.Executor, error) {
	k, err := executor.NewKubernetes(rc, executor.Options{
		Runner:   executor.RunnerInfo{Version: version, Revision: revision},
		Identity: identity,
	})
	if err != nil {
		return nil, err // not a nil *Kubernetes in a non-nil Executor
	}
	return k, nil
}

// replicaIdentity is this replica's name: its pod's (KUBERUNNER_POD_NAME, set from the
// downward API in manifests/base/deployment.yaml), else the host name, which in a pod is
// the pod's name too unless its spec sets another. A restarted container keeps it, so it
// adopts at once the pods its earlier process left.
func replicaIdentity() string {
	if name := os.Getenv(podNameEnv); name != "" {
		return name
	}
	host, _ := os.Hostname() // "": no Lease, as a single process
	return host
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
