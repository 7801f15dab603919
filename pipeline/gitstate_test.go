package pipeline

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/pipeline/compiler"
)

func TestReadGitState(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(),
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
			"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	if _, err := readGitState(context.Background(), dir); err == nil {
		t.Fatal("ReadGitState on a directory that is not a repository succeeded")
	}
	run("init", "-q", "-b", "trunk")
	if _, err := readGitState(context.Background(), dir); err == nil {
		t.Fatal("ReadGitState on a repository without commits succeeded")
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	run("add", "f")
	run("commit", "-q", "-m", "First")
	run("commit", "-q", "--allow-empty", "-m", "Second\n\nBody text")
	run("remote", "add", "origin", "https://user:secret@gitlab.example.com/acme/tools.git")

	g, err := readGitState(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Sha) != 40 || len(g.BeforeSha) != 40 || g.Sha == g.BeforeSha {
		t.Errorf("Sha %q, BeforeSha %q: want two different full hashes", g.Sha, g.BeforeSha)
	}
	abs, _ := filepath.Abs(dir)
	want := compiler.GitState{Sha: g.Sha, BeforeSha: g.BeforeSha, Branch: "trunk", Message: "Second\n\nBody text",
		DefaultBranch: "trunk", ProjectName: "tools", ProjectPath: "acme/tools", Dir: abs}
	if d := cmp.Diff(want, g); d != "" {
		t.Errorf("ReadGitState -want +got:\n%s", d)
	}

	run("tag", "v2.0.0")
	run("checkout", "-q", "--detach", "v2.0.0")
	g, err = readGitState(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if g.Branch != "" || g.Tag != "v2.0.0" {
		t.Errorf("detached at a tag: Branch %q, Tag %q; want no branch and tag v2.0.0", g.Branch, g.Tag)
	}
}

func TestProjectPathForms(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("git", "-C", dir, "init", "-q")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	if got := projectPath(context.Background(), dir); got != filepath.Base(dir) {
		t.Errorf("without origin: projectPath = %q, want the directory name %q", got, filepath.Base(dir))
	}
	for url, want := range map[string]string{
		"git@gitlab.com:group/sub/proj.git": "group/sub/proj",
		"ssh://git@host:2222/a/b.git":       "a/b",
		"https://host/a/b":                  "a/b",
	} {
		if out, err := exec.Command("git", "-C", dir, "remote", "add", "origin", url).CombinedOutput(); err != nil {
			t.Fatalf("git remote add: %v\n%s", err, out)
		}
		if got := projectPath(context.Background(), dir); got != want {
			t.Errorf("projectPath(%s) = %q, want %q", url, got, want)
		}
		if out, err := exec.Command("git", "-C", dir, "remote", "remove", "origin").CombinedOutput(); err != nil {
			t.Fatalf("git remote remove: %v\n%s", err, out)
		}
	}
}

// A repository with no commit, or whose commit lacks the file, gets a plain sentence,
// not git's error.
func TestCompileWithoutCommitOrFile(t *testing.T) {
	empty := t.TempDir()
	gitRun(t, empty, "init", "--quiet", "--initial-branch=main")
	_, err := Compile(empty, "", nil, nil)
	want := "the repository in " + empty + " has no commits yet: a pipeline runs for a commit, so commit .gitlab-ci.yml first"
	if err == nil || err.Error() != want {
		t.Errorf("Compile in a repository without commits: %v, want %q", err, want)
	}
	_, err = Compile(newTestRepo(t), "", nil, nil)
	if err == nil || err.Error() != ".gitlab-ci.yml: the pipeline file does not exist in the repository" {
		t.Errorf("Compile without .gitlab-ci.yml: %v", err)
	}
}
