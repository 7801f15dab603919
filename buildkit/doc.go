// Package buildkit owns how kuberunner runs BuildKit inside a job pod: rootless,
// unprivileged, with no added capabilities and a narrow seccomp profile (DaemonArgs,
// SecurityContext, SeccompProfile), and the environment the executor gives the job
// container to reach it (env.go). The executor puts these into the job pod; FINDINGS.md
// records the experiments behind every setting.
//
// The client that builds against the sidecar (`kuberunner build` and `kuberunner tag`) is
// package builder, in the agent binary only, and the only importer of
// github.com/moby/buildkit: the pod builder imports this package and stays light.
package buildkit
