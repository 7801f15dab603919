// Package metrics owns kuberunner's Prometheus metrics and the HTTP server that exposes
// them beside the liveness and readiness probes.
//
// Names and labels follow gitlab-runner's where the meaning is the same, so existing
// dashboards and alerts keep working; metrics gitlab-runner has no equivalent for are
// prefixed kuberunner_. Every label value comes from a bounded set (runner names from
// the configuration, fixed endpoints, numeric status codes, GitLab's failure reasons),
// never from job ids or names. Collectors live on an injected registry, never the
// global one.
package metrics
