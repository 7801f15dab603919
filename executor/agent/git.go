package agent

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/kuberunner/kuberunner/jobspec"
)

// Default refspecs when GitLab sends none: every branch and tag.
var defaultRefspecs = []string{"+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"}

// repo is where the sources come from and how to authenticate, kept apart so that the
// URL that is printed and passed on git's command line never carries the token.
type repo struct {
	url   string // without credentials
	token string
}

// newRepo strips the credentials GitLab puts into repo_url (gitlab-ci-token:<token>@).
func newRepo(job *jobspec.Job) (repo, error) {
	u, err := url.Parse(job.GitInfo.RepoURL)
	if err != nil {
		// url.Error quotes the URL, token included: do not wrap it.
		return repo{}, fmt.Errorf("repo_url of job %d is not a URL", job.ID)
	}
	r := repo{token: job.Token}
	if pw, ok := u.User.Password(); ok && pw != "" {
		r.token = pw
	}
	u.User = nil
	r.url = u.String()
	return r, nil
}

// env gives git the job token as an Authorization header through the environment
// (GIT_CONFIG_*, git 2.31+): never in a URL, an argument or a file. The header is scoped to
// the repository's origin, so a submodule on another host does not receive the token.
func (r repo) env() []string {
	env := append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	u, err := url.Parse(r.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || r.token == "" {
		return env
	}
	origin := u.Scheme + "://" + u.Host + "/"
	auth := base64.StdEncoding.EncodeToString([]byte("gitlab-ci-token:" + r.token))
	return append(env,
		"GIT_CONFIG_COUNT=1",
		"GIT_CONFIG_KEY_0=http."+origin+".extraHeader",
		"GIT_CONFIG_VALUE_0=Authorization: Basic "+auth,
	)
}

// getSources fetches the job's commit into the project directory, honouring
// GIT_STRATEGY (clone|fetch|none|empty), GIT_DEPTH, GIT_CHECKOUT, GIT_CLEAN_FLAGS and
// GIT_SUBMODULE_STRATEGY (none|normal|recursive).
func (a *agent) getSources(ctx context.Context, vars jobspec.Variables) error {
	dir := a.cfg.ProjectDir
	strategy := vars.Get("GIT_STRATEGY")
	if strategy == "" {
		strategy = "clone"
		if a.job.AllowGitFetch {
			strategy = "fetch"
		}
	}
	switch strategy {
	case "none":
		fmt.Fprintln(a.log, "Skipping Git repository setup (GIT_STRATEGY=none)")
		return os.MkdirAll(dir, 0o777)
	case "empty":
		fmt.Fprintln(a.log, "Skipping Git repository setup and creating an empty build directory")
		return emptyDir(dir)
	case "clone":
		if err := emptyDir(dir); err != nil {
			return err
		}
	case "fetch":
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return err
		}
	default:
		return fmt.Errorf("GIT_STRATEGY=%q is not clone, fetch, none or empty", strategy)
	}
	r, err := newRepo(a.job)
	if err != nil {
		return err
	}
	g := gitRunner{dir: dir, env: r.env(), a: a}
	return g.fetchAndCheckout(ctx, r, vars)
}

type gitRunner struct {
	dir string
	env []string
	a   *agent
}

func (g gitRunner) run(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = g.dir, g.env, g.a.log, g.a.log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("git %s: %w", args[0], err)
	}
	return nil
}

func (g gitRunner) fetchAndCheckout(ctx context.Context, r repo, vars jobspec.Variables) error {
	info := g.a.job.GitInfo
	if _, err := os.Stat(g.dir + "/.git"); err == nil {
		fmt.Fprintf(g.a.log, "Fetching changes from %s\n", r.url)
		if err := g.run(ctx, "remote", "set-url", "origin", r.url); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(g.a.log, "Fetching changes from %s into a new repository\n", r.url)
		if err := g.run(ctx, "init", "--quiet"); err != nil {
			return err
		}
		if err := g.run(ctx, "remote", "add", "origin", r.url); err != nil {
			return err
		}
	}
	fetch := []string{"fetch", "--prune", "--quiet", "--no-recurse-submodules"}
	depth := info.Depth
	if v := vars.Get("GIT_DEPTH"); v != "" {
		d, err := strconv.Atoi(v)
		if err != nil || d < 0 {
			return fmt.Errorf("GIT_DEPTH=%q is not a number", v)
		}
		depth = d
	}
	if depth > 0 {
		fetch = append(fetch, "--depth", strconv.Itoa(depth))
	}
	refspecs := info.Refspecs
	if len(refspecs) == 0 {
		refspecs = defaultRefspecs
	}
	if err := g.run(ctx, append(append(fetch, "origin"), refspecs...)...); err != nil {
		return err
	}
	if vars.Get("GIT_CHECKOUT") == "false" {
		fmt.Fprintln(g.a.log, "Skipping Git checkout (GIT_CHECKOUT=false)")
	} else {
		fmt.Fprintf(g.a.log, "Checking out %.8s as %s...\n", info.Sha, info.Ref)
		if err := g.run(ctx, "-c", "advice.detachedHead=false", "checkout", "--force", "--quiet", info.Sha); err != nil {
			return err
		}
		if err := g.clean(ctx, vars, false); err != nil {
			return err
		}
	}
	return g.submodules(ctx, vars)
}

func (g gitRunner) clean(ctx context.Context, vars jobspec.Variables, inSubmodules bool) error {
	flags := vars.Get("GIT_CLEAN_FLAGS")
	if flags == "" {
		flags = "-ffdx"
	}
	if flags == "none" {
		return nil
	}
	args := append([]string{"clean"}, strings.Fields(flags)...)
	if inSubmodules {
		return g.run(ctx, append([]string{"submodule", "foreach", "--recursive", "git"}, args...)...)
	}
	return g.run(ctx, args...)
}

func (g gitRunner) submodules(ctx context.Context, vars jobspec.Variables) error {
	var recursive []string
	switch s := vars.Get("GIT_SUBMODULE_STRATEGY"); s {
	case "", "none":
		return nil
	case "normal":
	case "recursive":
		recursive = []string{"--recursive"}
	default:
		return fmt.Errorf("GIT_SUBMODULE_STRATEGY=%q is not none, normal or recursive", s)
	}
	fmt.Fprintln(g.a.log, "Updating submodules...")
	if err := g.run(ctx, append([]string{"submodule", "sync"}, recursive...)...); err != nil {
		return err
	}
	if err := g.run(ctx, append([]string{"submodule", "update", "--init", "--force"}, recursive...)...); err != nil {
		return err
	}
	return g.clean(ctx, vars, true)
}

// emptyDir makes dir exist and be empty.
func emptyDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.MkdirAll(dir, 0o777)
}
