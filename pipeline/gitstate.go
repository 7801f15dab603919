package pipeline

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/kuberunner/kuberunner/pipeline/compiler"
)

// The compiler is given the git state; reading it (running git) is the caller's.

// readGitState runs git in dir to describe HEAD. A repository without commits is an
// error; a missing origin remote or default branch falls back to the directory name and
// the current branch.
func readGitState(ctx context.Context, dir string) (compiler.GitState, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return compiler.GitState{}, fmt.Errorf("read git state of %s: %w", dir, err)
	}
	g := compiler.GitState{Dir: abs}
	if g.Sha, err = git(ctx, abs, nil, "rev-parse", "--verify", "-q", "HEAD"); err != nil {
		if _, gitErr := git(ctx, abs, nil, "rev-parse", "--git-dir"); gitErr == nil {
			return compiler.GitState{}, fmt.Errorf("the repository in %s has no commits yet: a pipeline runs for a commit, so commit %s first", abs, ".gitlab-ci.yml")
		}
		return compiler.GitState{}, fmt.Errorf("read git state of %s: %w", dir, err)
	}
	g.BeforeSha, _ = git(ctx, abs, nil, "rev-parse", "--verify", "-q", "HEAD~1")
	g.Branch, _ = git(ctx, abs, nil, "symbolic-ref", "--short", "-q", "HEAD")
	if g.Branch == "" {
		g.Tag, _ = git(ctx, abs, nil, "describe", "--tags", "--exact-match", "HEAD")
	}
	if g.Message, err = git(ctx, abs, nil, "log", "-1", "--format=%B", "HEAD"); err != nil {
		return compiler.GitState{}, fmt.Errorf("read git state of %s: %w", dir, err)
	}
	g.DefaultBranch = defaultBranch(ctx, abs, g.Branch)
	g.ProjectPath = projectPath(ctx, abs)
	g.ProjectName = path.Base(g.ProjectPath)
	return g, nil
}

func defaultBranch(ctx context.Context, dir, current string) string {
	if ref, err := git(ctx, dir, nil, "symbolic-ref", "-q", "refs/remotes/origin/HEAD"); err == nil && ref != "" {
		return strings.TrimPrefix(ref, "refs/remotes/origin/")
	}
	if b, err := git(ctx, dir, nil, "config", "init.defaultBranch"); err == nil && b != "" {
		return b
	}
	if current != "" {
		return current
	}
	return "main"
}

// projectPath takes group/project from the origin remote's URL, whatever its form
// (https://host/group/project.git, git@host:group/project.git), else the directory name.
func projectPath(ctx context.Context, dir string) string {
	url, err := git(ctx, dir, nil, "remote", "get-url", "origin")
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
