package pipeline

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// GitServerOptions say what a GitServer serves and to whom.
type GitServerOptions struct {
	Dir         string // the repository (any directory inside it)
	ProjectPath string // group/project: the repository is served at /<ProjectPath>.git
	// Refs are created in the served repository, all pointing at the served commit.
	Refs []string
	// IncludeUncommitted serves a commit of the working tree (on top of HEAD) instead of HEAD.
	IncludeUncommitted bool
	// Exclude lists paths (relative to the top level) left out of that commit.
	Exclude []string
	// Authorize reports whether a job token may fetch; it must be safe for concurrent use.
	Authorize func(token string) bool
}

// GitServer serves a snapshot of a repository over git's smart HTTP protocol through
// `git http-backend`, read-only (upload-pack only), to clients that authenticate as GitLab
// runners do: Basic auth with user gitlab-ci-token and the job's token.
type GitServer struct {
	root      string // GIT_PROJECT_ROOT, a temporary directory
	bare      string // the served repository, in root
	path      string // URL path of the repository, "/group/project.git"
	sha       string
	authorize func(string) bool
	backend   *cgi.Handler
}

// NewGitServer snapshots the repository. Close removes the snapshot.
func NewGitServer(ctx context.Context, opts GitServerOptions) (*GitServer, error) {
	if opts.Authorize == nil {
		return nil, fmt.Errorf("git server: no Authorize function")
	}
	clean := path.Clean("/" + opts.ProjectPath)
	if opts.ProjectPath == "" || clean != "/"+opts.ProjectPath {
		return nil, fmt.Errorf("git server: project path %q is not of the form group/project", opts.ProjectPath)
	}
	gitBin, err := exec.LookPath("git")
	if err != nil {
		return nil, fmt.Errorf("git server: %w", err)
	}
	root, err := os.MkdirTemp("", "kuberunner-git-")
	if err != nil {
		return nil, fmt.Errorf("git server: %w", err)
	}
	bare := filepath.Join(root, filepath.FromSlash(opts.ProjectPath)+".git")
	snap, err := newSnapshot(ctx, opts.Dir, bare, opts.Refs, opts.IncludeUncommitted, opts.Exclude...)
	if err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("git server: snapshot %s: %w", opts.Dir, err)
	}
	return &GitServer{
		root:      root,
		bare:      bare,
		path:      clean + ".git",
		sha:       snap.sha,
		authorize: opts.Authorize,
		backend: &cgi.Handler{
			Path: gitBin,
			Args: []string{"http-backend"},
			Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
		},
	}, nil
}

// Sha is the commit served.
func (g *GitServer) Sha() string { return g.sha }

// Path is the repository's URL path, "/group/project.git".
func (g *GitServer) Path() string { return g.path }

// Close removes the snapshot.
func (g *GitServer) Close() error {
	if err := os.RemoveAll(g.root); err != nil {
		return fmt.Errorf("git server: remove snapshot: %w", err)
	}
	return nil
}

// ServeHTTP serves the two requests of a smart HTTP fetch: GET info/refs for upload-pack
// and POST git-upload-pack. Everything else (push, the dumb protocol, other paths) is refused.
func (g *GitServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, g.path+"/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	fetch := (r.Method == http.MethodGet && rest == "info/refs" && r.URL.Query().Get("service") == "git-upload-pack") ||
		(r.Method == http.MethodPost && rest == "git-upload-pack")
	if !fetch {
		http.Error(w, "only git fetch (upload-pack) is served", http.StatusForbidden)
		return
	}
	user, token, ok := r.BasicAuth()
	if !ok || user != "gitlab-ci-token" || !g.authorize(token) {
		w.Header().Set("WWW-Authenticate", `Basic realm="kuberunner"`)
		http.Error(w, "a running job's token is required", http.StatusUnauthorized)
		return
	}
	g.backend.ServeHTTP(w, r)
}

// AddRef serves the commit under one more ref as well: a child pipeline's
// refs/pipelines/<id>. Fetches already under way are not disturbed.
func (g *GitServer) AddRef(ctx context.Context, ref string) error {
	if _, err := git(ctx, g.bare, nil, "update-ref", ref, g.sha); err != nil {
		return fmt.Errorf("git server: add %s: %w", ref, err)
	}
	return nil
}
