package compiler

import "github.com/kuberunner/kuberunner/jobspec"

// rootKeywords are the top-level keys that are not jobs.
var rootKeywords = set("default", "include", "before_script", "image", "services",
	"after_script", "variables", "stages", "cache", "workflow")

// jobKeywords are the keys a job may have (GitLab's Job::ALLOWED_KEYS plus
// Processable::PROCESSABLE_ALLOWED_KEYS) that the compiler handles.
var jobKeywords = set("script", "before_script", "after_script", "image", "services",
	"stage", "variables", "when", "start_in", "allow_failure", "needs", "dependencies",
	"artifacts", "cache", "retry", "timeout", "tags", "interruptible", "resource_group",
	"environment", "coverage", "parallel", "rules", "only", "except", "extends", "inherit",
	"manual_confirmation", "trigger")

// serverJobKeywords are valid GitLab job keys that need a GitLab server (or a feature a
// local run cannot provide); using one is an error that says so.
var serverJobKeywords = map[string]string{
	"secrets":            "it reads secrets through a GitLab server",
	"id_tokens":          "it needs OIDC tokens signed by a GitLab server",
	"release":            "it creates a release on a GitLab server",
	"pages":              "it publishes to GitLab Pages",
	"publish":            "it publishes to GitLab Pages",
	"hooks":              "runner hooks are not supported",
	"run":                "CI/CD steps (run:) are not supported",
	"dast_configuration": "it needs a GitLab server",
	"identity":           "it needs a GitLab server",
}

// defaultKeywords may appear under default: and are inherited by jobs.
var defaultKeywords = set("before_script", "after_script", "image", "services", "cache",
	"interruptible", "timeout", "retry", "tags", "artifacts", "hooks", "id_tokens")

var (
	workflowKeywords     = set("rules", "name", "auto_cancel")
	ruleKeywords         = set("if", "changes", "exists", "when", "start_in", "allow_failure", "variables", "needs", "interruptible")
	workflowRuleKeywords = set("if", "changes", "exists", "when", "variables", "auto_cancel")
	includeRuleKeywords  = set("if", "changes", "exists", "when")
	imageKeywords        = set("name", "entrypoint", "pull_policy", "docker", "kubernetes")
	serviceKeywords      = set("name", "entrypoint", "command", "alias", "variables", "pull_policy", "docker", "kubernetes")
	artifactsKeywords    = set("name", "paths", "exclude", "untracked", "when", "expire_in", "expose_as", "reports", "public", "access")
	cacheKeywords        = set("key", "paths", "untracked", "policy", "when", "fallback_keys", "unprotect")
	environmentKeywords  = set("name", "url", "action", "on_stop", "auto_stop_in", "kubernetes", "deployment_tier")
	retryKeywords        = set("max", "when", "exit_codes")
	inheritKeywords      = set("default", "variables")
	policyKeywords       = set("refs", "variables", "changes", "kubernetes")
	needKeywords         = set("job", "artifacts", "optional", "parallel")
)

var (
	jobWhens     = set("on_success", "on_failure", "always", "manual", "delayed")
	ruleWhens    = set("on_success", "on_failure", "always", "never", "manual", "delayed")
	artifactWhen = set("on_success", "on_failure", "always")
	cachePolicy  = set("pull", "push", "pull-push")
	pullPolicies = set(jobspec.PullPolicies...)
	retryWhens   = set("always", "unknown_failure", "script_failure", "api_failure",
		"stuck_or_timeout_failure", "runner_system_failure", "runner_unsupported",
		"stale_schedule", "job_execution_timeout", "archived_failure", "unmet_prerequisites",
		"scheduler_failure", "data_integrity_failure")
)

func set(items ...string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, s := range items {
		m[s] = true
	}
	return m
}
