// Package e2e holds kuberunner's end-to-end tests (build tag e2e) and, under e2e/cluster, the
// harness that boots a real single-node Kubernetes on this machine for them. The tests run
// against any cluster KUBECONFIG names. e2e/README.md says how to bring the cluster up, run
// the suite or one test, repeat a chaos run and run the benchmarks.
package e2e
