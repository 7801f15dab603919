// Package e2e holds kuberunner's end-to-end tests (build tag e2e) and, under e2e/cluster, the
// harness that boots a real single-node Kubernetes on this machine for them. The tests run
// against any cluster KUBECONFIG names; README.md says how ("Running the e2e tests on another
// cluster").
package e2e
