package compiler

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
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

// ReadGitState runs git in dir to describe HEAD. A repository without commits is an
// error; a missing origin remote or default branch falls back to the directory name and
// the current branch.
func ReadGitState(dir string) (GitState, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return GitState{}, fmt.Errorf("read git state of %s: %w", dir, err)
	}
	g := GitState{Dir: abs}
	if g.Sha, err = git(abs, "rev-parse", "--verify", "-q", "HEAD"); err != nil {
		if _, gitErr := git(abs, "rev-parse", "--git-dir"); gitErr == nil {
			return GitState{}, fmt.Errorf("the repository in %s has no commits yet: a pipeline runs for a commit, so commit %s first", abs, ".gitlab-ci.yml")
		}
		return GitState{}, fmt.Errorf("read git state of %s: %w", dir, err)
	}
	g.BeforeSha, _ = git(abs, "rev-parse", "--verify", "-q", "HEAD~1")
	g.Branch, _ = git(abs, "symbolic-ref", "--short", "-q", "HEAD")
	if g.Branch == "" {
		g.Tag, _ = git(abs, "describe", "--tags", "--exact-match", "HEAD")
	}
	if g.Message, err = git(abs, "log", "-1", "--format=%B", "HEAD"); err != nil {
		return GitState{}, fmt.Errorf("read git state of %s: %w", dir, err)
	}
	g.DefaultBranch = defaultBranch(abs, g.Branch)
	g.ProjectPath = projectPath(abs)
	_, g.ProjectName = splitProjectPath(g.ProjectPath)
	return g, nil
}

func defaultBranch(dir, current string) string {
	if ref, err := git(dir, "symbolic-ref", "-q", "refs/remotes/origin/HEAD"); err == nil && ref != "" {
		return strings.TrimPrefix(ref, "refs/remotes/origin/")
	}
	if b, err := git(dir, "config", "init.defaultBranch"); err == nil && b != "" {
		return b
	}
	if current != "" {
		return current
	}
	return "main"
}

// projectPath takes group/project from the origin remote's URL, whatever its form
// (https://host/group/project.git, git@host:group/project.git), else the directory name.
func projectPath(dir string) string {
	url, err := git(dir, "remote", "get-url", "origin")
	if err == nil && url != "" {
		p := url
		if i := strings.Index(p, "://"); i >= 0 {
			p = p[i+3:]
			if j := strings.IndexByte(p, '/'); j >= 0 {
				p = p[j+1:]
			}
		} else if i := strings.IndexByte(p, ':'); i >= 0 {
			p = p[i+1:]
		}
		p = strings.Trim(strings.TrimSuffix(p, ".git"), "/")
		if p != "" {
			return p
		}
	}
	return filepath.Base(dir)
}

// git runs one git command in dir and returns its trimmed output.
func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return "", fmt.Errorf("git %s: %w", args[0], err)
		}
		return "", fmt.Errorf("git %s: %s", args[0], msg)
	}
	return strings.TrimRight(string(out), "\n"), nil
}
