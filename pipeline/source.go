package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kuberunner/kuberunner/pipeline/compiler"
)

// DefaultFile is the configuration file GitLab reads.
const DefaultFile = ".gitlab-ci.yml"

// source is the repository a local pipeline runs for: the commit served, its variables.
type source struct {
	top        string
	state      compiler.GitState // Sha is the served commit
	dirty      bool              // the working tree differs from HEAD
	pipelineID int64
	git        *GitServer
	predefined []compiler.Var
	user       []compiler.Var
	changed    []string
}

func prepareSource(ctx context.Context, opts Options, authorize func(string) bool) (*source, error) {
	user, err := ParseVars(opts.Vars)
	if err != nil {
		return nil, err
	}
	top, err := git(ctx, cmp.Or(opts.Dir, "."), nil, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("find the repository: %w", err)
	}
	state, err := readGitState(ctx, top)
	if err != nil {
		return nil, err
	}
	if err := skipped(state.Message); err != nil {
		return nil, err
	}
	id, err := newPipelineDir(top)
	if err != nil {
		return nil, err
	}
	s := &source{top: top, state: state, pipelineID: id, user: user}
	refs := []string{PipelineRef(id)}
	switch {
	case state.Tag != "":
		refs = append(refs, "refs/tags/"+state.Tag)
	case state.Branch != "":
		refs = append(refs, "refs/heads/"+state.Branch)
	}
	s.git, err = NewGitServer(ctx, GitServerOptions{
		Dir: top, ProjectPath: state.ProjectPath, Refs: refs, IncludeUncommitted: opts.IncludeUncommitted,
		Exclude: []string{StateDir}, Authorize: authorize,
	})
	if err != nil {
		return nil, err
	}
	status, err := git(ctx, top, nil, "status", "--porcelain", "--", ":/", ":(top,exclude)"+StateDir)
	if err != nil {
		s.git.Close()
		return nil, err
	}
	s.dirty = status != ""
	if head := s.state.Sha; s.git.Sha() != head {
		s.state.BeforeSha, s.state.Sha = head, s.git.Sha()
	}
	if s.state.BeforeSha != "" {
		if diff, err := git(ctx, s.git.bare, nil, "diff", "--name-only", s.state.BeforeSha, s.state.Sha); err == nil {
			s.changed = strings.Fields(diff)
		}
	}
	s.predefined = append(compiler.PredefinedVariables(s.state), registryVariables(opts.Registry, s.state.ProjectPath)...)
	return s, nil
}

func (s *source) compile(opts Options) (*compiler.Pipeline, error) {
	p, err := compiler.Compile(compiler.Input{
		FS: os.DirFS(s.top), File: cmp.Or(opts.File, DefaultFile),
		Variables: append(s.predefined, s.user...), Changed: s.changed, Mirrors: opts.Mirrors,
	})
	if err != nil {
		return nil, err
	}
	if err := created(p); err != nil {
		return nil, err
	}
	return p, nil
}

// dir is the pipeline's directory, .kuberunner/pipelines/<id>.
func (s *source) dir() string {
	return filepath.Join(s.top, StateDir, "pipelines", strconv.FormatInt(s.pipelineID, 10))
}

// newChild gives a child pipeline its own ID, reserved in the state directory as a
// run's is (its jobs' artifacts stay under the parent's), and serves its pipeline ref.
func (s *source) newChild(ctx context.Context) (int64, error) {
	id, err := newPipelineDir(s.top)
	if err != nil {
		return 0, err
	}
	return id, s.git.AddRef(ctx, PipelineRef(id))
}

func (s *source) ref() string { return cmp.Or(s.state.Tag, s.state.Branch, "detached HEAD") }

// cacheKey is cache:key:files as GitLab computes it: the last commit that changed any of
// the files, or "default" when none did.
func (s *source) cacheKey(files []string) string {
	args := append([]string{"log", "-1", "--format=%H", s.state.Sha, "--"}, files...)
	sha, err := git(context.Background(), s.git.bare, nil, args...)
	if err != nil || sha == "" {
		return "default"
	}
	return sha
}

// Compile compiles the configuration of the repository in dir as a push of HEAD would
// (predefined variables included, vars as pipeline variables), for lint and show. When the
// configuration is valid but GitLab would create no pipeline for HEAD ([ci skip],
// workflow:rules, no job left), it returns the compiled pipeline with a *NoPipelineError.
// mirrors are local copies of what includes read from a GitLab server (compiler.Input).
func Compile(dir, file string, vars []string, mirrors map[string]fs.FS) (*compiler.Pipeline, error) {
	user, err := ParseVars(vars)
	if err != nil {
		return nil, err
	}
	top, err := git(context.Background(), cmp.Or(dir, "."), nil, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("find the repository: %w", err)
	}
	state, err := readGitState(context.Background(), top)
	if err != nil {
		return nil, err
	}
	p, err := compiler.Compile(compiler.Input{
		FS: os.DirFS(top), File: cmp.Or(file, DefaultFile),
		Variables: append(compiler.PredefinedVariables(state), user...), Mirrors: mirrors,
	})
	if err != nil {
		return nil, err
	}
	if err := skipped(state.Message); err != nil {
		return p, err
	}
	return p, created(p)
}

// ParseVars reads KEY=VALUE pipeline variables.
func ParseVars(vars []string) ([]compiler.Var, error) {
	var out []compiler.Var
	for _, kv := range vars {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			// The value may be a secret: name only the key.
			return nil, fmt.Errorf("variable %q: want KEY=VALUE", k)
		}
		out = append(out, compiler.Var{Key: k, Value: v, Expand: true})
	}
	return out, nil
}

// newPipelineDir creates .kuberunner/pipelines/<id> with the next free id.
func newPipelineDir(top string) (int64, error) {
	dir := filepath.Join(top, StateDir, "pipelines")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("create %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", dir, err)
	}
	var id int64
	for _, e := range entries {
		if n, err := strconv.ParseInt(e.Name(), 10, 64); err == nil {
			id = max(id, n)
		}
	}
	for {
		id++
		err := os.Mkdir(filepath.Join(dir, strconv.FormatInt(id, 10)), 0o755)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return 0, fmt.Errorf("create pipeline directory: %w", err)
		}
	}
}
