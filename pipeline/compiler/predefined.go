package compiler

import (
	"regexp"
	"strings"
)

// GitState describes the commit a local pipeline runs for.
type GitState struct {
	Sha, BeforeSha string
	Branch, Tag    string // one of them; Tag when HEAD is detached at a tag
	Message        string
	DefaultBranch  string
	ProjectName    string // the last element of ProjectPath
	ProjectPath    string // group/project, from the origin remote or the directory name
	Dir            string
}

const zeroSha = "0000000000000000000000000000000000000000"

// PredefinedVariables returns the predefined variables GitLab would give a push
// pipeline for g: CI=true, CI_PIPELINE_SOURCE=push, CI_COMMIT_*, CI_DEFAULT_BRANCH and
// CI_PROJECT_*. Runner-side ones (CI_PROJECT_DIR, CI_JOB_*) are left to the runner.
func PredefinedVariables(g GitState) []Var {
	ref := g.Branch
	if g.Tag != "" {
		ref = g.Tag
	}
	before := g.BeforeSha
	if before == "" {
		before = zeroSha
	}
	title, description, _ := strings.Cut(strings.TrimRight(g.Message, "\n"), "\n")
	namespace, _ := splitProjectPath(g.ProjectPath)
	vars := []Var{
		{Key: "CI", Value: "true"},
		{Key: "GITLAB_CI", Value: "true"},
		{Key: "CI_PIPELINE_SOURCE", Value: "push"},
		{Key: "CI_CONFIG_PATH", Value: ".gitlab-ci.yml"},
		{Key: "CI_COMMIT_SHA", Value: g.Sha},
		{Key: "CI_COMMIT_SHORT_SHA", Value: shortSha(g.Sha)},
		{Key: "CI_COMMIT_BEFORE_SHA", Value: before},
		{Key: "CI_COMMIT_REF_NAME", Value: ref},
		{Key: "CI_COMMIT_REF_SLUG", Value: Slug(ref)},
		{Key: "CI_COMMIT_REF_PROTECTED", Value: "false"},
		{Key: "CI_COMMIT_MESSAGE", Value: g.Message},
		{Key: "CI_COMMIT_TITLE", Value: title},
		{Key: "CI_COMMIT_DESCRIPTION", Value: strings.TrimLeft(description, "\n")},
		{Key: "CI_DEFAULT_BRANCH", Value: g.DefaultBranch},
		{Key: "CI_PROJECT_NAME", Value: g.ProjectName},
		{Key: "CI_PROJECT_TITLE", Value: g.ProjectName},
		{Key: "CI_PROJECT_PATH", Value: g.ProjectPath},
		{Key: "CI_PROJECT_PATH_SLUG", Value: Slug(g.ProjectPath)},
		{Key: "CI_PROJECT_NAMESPACE", Value: namespace},
		{Key: "CI_PROJECT_ROOT_NAMESPACE", Value: strings.Split(g.ProjectPath, "/")[0]},
	}
	if g.Tag != "" {
		vars = append(vars, Var{Key: "CI_COMMIT_TAG", Value: g.Tag}, Var{Key: "CI_COMMIT_TAG_MESSAGE", Value: ""})
	} else {
		vars = append(vars, Var{Key: "CI_COMMIT_BRANCH", Value: g.Branch})
	}
	for i := range vars {
		vars[i].Expand = false // predefined values are never expanded again
	}
	return vars
}

func shortSha(sha string) string {
	if len(sha) > 8 {
		return sha[:8]
	}
	return sha
}

func splitProjectPath(p string) (namespace, name string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}

var slugInvalid = regexp.MustCompile(`[^a-z0-9]+`)

// Slug is GitLab's *_SLUG form: lowercased, runs of anything but a-z and 0-9 replaced by
// "-", at most 63 characters, no "-" at either end.
func Slug(s string) string {
	s = slugInvalid.ReplaceAllString(strings.ToLower(s), "-")
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, "-")
}
