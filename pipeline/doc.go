// Package pipeline owns local pipelines: running a repository's .gitlab-ci.yml on a
// cluster with no GitLab. The compiled jobs (package pipeline/compiler) are served by an
// embedded, GitLab-compatible coordinator (package coordinator) to an ordinary runner
// (package runner, with the real gitlab client), so every job takes the production path:
// poll, pod, trace, artifacts.
//
// The package holds the parts GitLab's server would otherwise play:
//   - Scheduler: which jobs run, wait, are skipped or retried, by GitLab's own rules
//     (stage order, the needs DAG, when, allow_failure, retry, resource_group, manual jobs);
//   - the conversion of a compiled job into the job payload a runner receives;
//   - GitServer: the repository served to the pods' git fetch over smart HTTP, read-only,
//     behind each job's token, as HEAD or as a snapshot of the working tree;
//   - Engine: the loop that connects the three and passes artifacts between jobs; a
//     trigger job's child pipeline runs in an Engine of its own on the same coordinator;
//   - Run: the whole of `kuberunner pipeline run`, with its terminal output.
package pipeline
