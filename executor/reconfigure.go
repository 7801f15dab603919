package executor

import (
	"fmt"
	"slices"

	"github.com/kuberunner/kuberunner/config"
)

// connection is what ties an executor to its cluster and namespace: its client, informer,
// Lease and sweep are built on it once, so a reload cannot change it.
type connection struct{ kubeconfig, context, namespace string }

func connectionOf(k config.Kubernetes) connection {
	k.SetDefaults()
	return connection{kubeconfig: k.Kubeconfig, context: k.Context, namespace: k.Namespace}
}

// Reconfigure compiles rc's Kubernetes settings for the jobs started from now on; running
// jobs keep the settings they started with. It refuses, keeping the settings in force, a
// section that does not compile or that moves the executor to another cluster or namespace,
// which needs a restart. The runner's name, URL and id stay those of the start.
func (k *Kubernetes) Reconfigure(rc config.Runner) error {
	if got := connectionOf(rc.Kubernetes); got != k.conn {
		return fmt.Errorf("runner %s: kubeconfig, context and namespace take effect only at a restart", k.pc.Runner.Name)
	}
	pc, err := NewPodConfig(rc.Kubernetes, k.pc.Runner)
	if err != nil {
		return fmt.Errorf("runner %s: %w", k.pc.Runner.Name, err)
	}
	pc.Manager = k.pc.Manager
	k.jobs.Store(&pc)
	return nil
}

// sweptNamespaces are the namespaces deploy jobs may have RoleBindings in: those of the
// start and those of the settings in force, so a reload does not leave the first unswept.
func (k *Kubernetes) sweptNamespaces() []string {
	out := k.pc.deployNamespaces()
	for _, ns := range k.jobs.Load().deployNamespaces() {
		if !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	return out
}
