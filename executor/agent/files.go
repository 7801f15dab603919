package agent

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// fileSet selects files of the project for an artifact or a cache entry.
type fileSet struct {
	paths     []string // globs relative to the project, ** allowed
	exclude   []string
	untracked bool // every file git does not track, .gitignore notwithstanding (GitLab's rule)
}

// collect returns the selected regular files as sorted slash-separated paths relative to
// root. A pattern that leaves the project is an error; one that matches nothing is not.
func (s fileSet) collect(ctx context.Context, root string) ([]string, error) {
	seen := map[string]bool{}
	fsys := os.DirFS(root)
	add := func(rel string) error {
		return fs.WalkDir(fsys, rel, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				seen[p] = true
			}
			return nil
		})
	}
	for _, pattern := range s.paths {
		pattern, err := localPattern(pattern)
		if err != nil {
			return nil, err
		}
		matches, err := doublestar.Glob(fsys, pattern)
		if err != nil {
			return nil, fmt.Errorf("path %q: %w", pattern, err)
		}
		for _, m := range matches {
			if err := add(m); err != nil {
				return nil, fmt.Errorf("path %q: %w", pattern, err)
			}
		}
	}
	if s.untracked {
		files, err := untrackedFiles(ctx, root)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if err := add(f); err != nil {
				return nil, err
			}
		}
	}
	var out []string
	for p := range seen {
		if !s.excluded(p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out, nil
}

// excluded reports whether p or one of its parent folders matches an exclude pattern.
func (s fileSet) excluded(p string) bool {
	for _, pattern := range s.exclude {
		pattern, err := localPattern(pattern)
		if err != nil {
			continue
		}
		for q := p; q != "."; q = path.Dir(q) {
			if ok, _ := doublestar.Match(pattern, q); ok {
				return true
			}
		}
	}
	return false
}

// localPattern turns a user's path into an fs.FS pattern: slash-separated, no "./",
// and inside the project.
func localPattern(p string) (string, error) {
	clean := path.Clean(strings.TrimPrefix(filepath.ToSlash(p), "./"))
	if clean == "." {
		return ".", nil
	}
	if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("path %q is outside the project directory", p)
	}
	return clean, nil
}

func untrackedFiles(ctx context.Context, root string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "git", "ls-files", "--others", "-z")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("list untracked files: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var files []string
	for f := range strings.SplitSeq(string(out), "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	return files, nil
}
