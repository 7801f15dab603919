// Package manifests owns what an operator applies to run kuberunner in a cluster: the
// kustomize base (the runner's namespace and the jobs', ServiceAccount, the runner's
// least-privilege Role and its binding in the jobs' namespace, the Deployment, the metrics
// Service), the Role deploy jobs' namespaces grant the runner (deploy/), an example
// configuration, an overlay that puts everything in one namespace, the Grafana dashboard
// and the Prometheus rules.
//
// The files are embedded, and decoded by Base and Role, so that tests (unit tests here,
// end-to-end tests on a cluster) check and apply exactly what operators get. Enforcer
// makes client-go's fake clientset grant only a given Role, so unit tests of the
// executor can show it needs no more than base/role.yaml.
package manifests

import "embed"

// FS holds base/, deploy/, examples/, grafana/, prometheus/ and config.example.yaml with their repository paths
// ("base/role.yaml").
//
//go:embed base deploy examples grafana prometheus config.example.yaml
var FS embed.FS
