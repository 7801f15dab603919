package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// snapshot is a temporary bare repository that borrows the user's objects (through
// alternates) and holds the refs a local pipeline serves. Nothing is ever written to the
// user's repository: new objects (the commit of uncommitted changes) go to the snapshot's
// own object directory.
type snapshot struct {
	bare string // the bare repository
	sha  string // the commit served
}

// newSnapshot creates the bare repository at bare for the repository in dir (its top
// level), with refs pointing at HEAD, or at a commit of the working tree when uncommitted
// is set. excluded paths (top-level relative) are left out of that commit.
func newSnapshot(ctx context.Context, dir, bare string, refs []string, uncommitted bool, excluded ...string) (*snapshot, error) {
	objects, err := git(ctx, dir, nil, "rev-parse", "--path-format=absolute", "--git-common-dir")
	if err != nil {
		return nil, err
	}
	objects = filepath.Join(objects, "objects")
	if _, err := git(ctx, "", nil, "init", "--quiet", "--bare", bare); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(bare, "objects", "info", "alternates"), []byte(objects+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	// Read-only over HTTP, whatever the defaults of the installed git.
	if _, err := git(ctx, bare, nil, "config", "http.receivepack", "false"); err != nil {
		return nil, err
	}
	s := &snapshot{bare: bare}
	if s.sha, err = git(ctx, dir, nil, "rev-parse", "--verify", "HEAD^{commit}"); err != nil {
		return nil, err
	}
	if uncommitted {
		if s.sha, err = commitWorkingTree(ctx, dir, bare, objects, s.sha, excluded); err != nil {
			return nil, err
		}
	}
	head := []string{"update-ref", "--no-deref", "HEAD", s.sha}
	for _, ref := range refs {
		if _, err := git(ctx, bare, nil, "update-ref", ref, s.sha); err != nil {
			return nil, err
		}
		if strings.HasPrefix(ref, "refs/heads/") && head[0] == "update-ref" {
			head = []string{"symbolic-ref", "HEAD", ref}
		}
	}
	// HEAD names the served commit too, so that a plain clone checks it out.
	if _, err := git(ctx, bare, nil, head...); err != nil {
		return nil, err
	}
	return s, nil
}

// commitWorkingTree commits the working tree (what `git add -A` would stage, ignored files
// left out) on top of head, in a temporary index and into the snapshot's object
// directory, so the user's index, refs and objects stay untouched. It returns head itself
// when nothing differs.
func commitWorkingTree(ctx context.Context, dir, bare, userObjects, head string, excluded []string) (string, error) {
	index := filepath.Join(bare, "kuberunner-index")
	defer os.Remove(index)
	// Starting from a copy of the user's index keeps its stat data, so only changed files
	// are hashed again, and includes what the user staged.
	userIndex, err := git(ctx, dir, nil, "rev-parse", "--path-format=absolute", "--git-path", "index")
	if err != nil {
		return "", err
	}
	env := []string{
		"GIT_INDEX_FILE=" + index,
		"GIT_OBJECT_DIRECTORY=" + filepath.Join(bare, "objects"),
		"GIT_ALTERNATE_OBJECT_DIRECTORIES=" + userObjects,
		"GIT_AUTHOR_NAME=kuberunner", "GIT_AUTHOR_EMAIL=kuberunner@localhost",
		"GIT_COMMITTER_NAME=kuberunner", "GIT_COMMITTER_EMAIL=kuberunner@localhost",
	}
	if err := copyFile(userIndex, index); errors.Is(err, os.ErrNotExist) {
		if _, err := git(ctx, dir, env, "read-tree", head); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", fmt.Errorf("snapshot: copy the index: %w", err)
	}
	add := []string{"add", "--all", "--", ":/"}
	for _, p := range excluded {
		// git add refuses an exclude pathspec naming an ignored path ("The following paths
		// are ignored"); an ignored path is left out anyway.
		if _, err := git(ctx, dir, nil, "check-ignore", "-q", ":(top)"+p); err == nil {
			continue
		}
		add = append(add, ":(top,exclude)"+p)
	}
	if _, err := git(ctx, dir, env, add...); err != nil {
		return "", err
	}
	tree, err := git(ctx, dir, env, "write-tree")
	if err != nil {
		return "", err
	}
	headTree, err := git(ctx, dir, env, "rev-parse", head+"^{tree}")
	if err != nil {
		return "", err
	}
	if tree == headTree {
		return head, nil
	}
	return git(ctx, dir, env, "commit-tree", tree, "-p", head, "-m", "kuberunner: uncommitted changes")
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// git runs one git command (in dir unless empty) with env added to the process's, and
// returns its trimmed output; the error carries git's own message.
func git(ctx context.Context, dir string, env []string, args ...string) (string, error) {
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		name := args[0]
		if dir != "" {
			name = args[2]
		}
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return "", fmt.Errorf("git %s: %s", name, msg)
		}
		return "", fmt.Errorf("git %s: %w", name, err)
	}
	return strings.TrimSpace(stdout.String()), nil
}
