package pipeline

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testToken = "glcbt-testtoken"

// gitRun runs git in dir with a fixed identity and no user or system configuration.
func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir(), "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func gitFails(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir(), "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("git %s succeeded, want a failure:\n%s", strings.Join(args, " "), out)
	}
	return string(out)
}

// newRepo makes a repository with one commit on main: README and .gitignore (ignoring *.log).
func newTestRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	gitRun(t, dir, "init", "--quiet", "--initial-branch=main")
	writeFile(t, dir, "README", "committed\n")
	writeFile(t, dir, ".gitignore", "*.log\n")
	gitRun(t, dir, "add", "-A")
	gitRun(t, dir, "commit", "--quiet", "-m", "first")
	return dir
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return "<missing>"
	}
	return string(b)
}

func startGitServer(t *testing.T, dir string, uncommitted bool) (*GitServer, string) {
	t.Helper()
	g, err := NewGitServer(context.Background(), GitServerOptions{
		Dir: dir, ProjectPath: "group/project", IncludeUncommitted: uncommitted,
		Refs:      []string{"refs/pipelines/7", "refs/heads/main"},
		Exclude:   []string{".kuberunner"},
		Authorize: func(tok string) bool { return tok == testToken },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Error(err)
		}
	})
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return g, srv.URL + g.Path()
}

func withCreds(url, token string) string {
	return strings.Replace(url, "http://", "http://gitlab-ci-token:"+token+"@", 1)
}

func TestGitServerServesHEADToAJobToken(t *testing.T) {
	dir := newTestRepo(t)
	head := gitRun(t, dir, "rev-parse", "HEAD")
	writeFile(t, dir, "README", "changed but not committed\n")
	g, url := startGitServer(t, dir, false)
	if g.Sha() != head {
		t.Errorf("Sha = %s, want HEAD %s", g.Sha(), head)
	}

	clone := filepath.Join(t.TempDir(), "clone")
	gitRun(t, ".", "clone", "--quiet", withCreds(url, testToken), clone)
	if got := readFile(t, filepath.Join(clone, "README")); got != "committed\n" {
		t.Errorf("cloned README = %q, want the committed content", got)
	}
	// The fetch the agent does: the pipeline ref by name.
	gitRun(t, clone, "fetch", "--quiet", "origin", "+refs/pipelines/7:refs/pipelines/7")
	if got := gitRun(t, clone, "rev-parse", "refs/pipelines/7"); got != head {
		t.Errorf("refs/pipelines/7 = %s, want %s", got, head)
	}

	for name, u := range map[string]string{
		"wrong token": withCreds(url, "glcbt-wrong"),
		"no token":    url,
	} {
		t.Run(name, func(t *testing.T) {
			out := gitFails(t, ".", "ls-remote", u)
			if strings.Contains(out, testToken) {
				t.Errorf("git output leaks the token: %s", out)
			}
		})
	}
	t.Run("push refused", func(t *testing.T) {
		writeFile(t, clone, "new", "x")
		gitRun(t, clone, "add", "new")
		gitRun(t, clone, "commit", "--quiet", "-m", "push attempt")
		gitFails(t, clone, "push", "origin", "HEAD:refs/heads/main")
	})
}

func TestGitServerRefusesWhatIsNotAFetch(t *testing.T) {
	_, url := startGitServer(t, newTestRepo(t), false)
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/info/refs?service=git-receive-pack", http.StatusForbidden},
		{"POST", "/git-receive-pack", http.StatusForbidden},
		{"GET", "/HEAD", http.StatusForbidden},
		{"GET", "/objects/info/alternates", http.StatusForbidden},
		{"GET", "/info/refs?service=git-upload-pack", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		req, err := http.NewRequest(tc.method, url+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
}

func TestGitServerSnapshotsTheWorkingTree(t *testing.T) {
	dir := newTestRepo(t)
	head := gitRun(t, dir, "rev-parse", "HEAD")
	writeFile(t, dir, "README", "uncommitted edit\n")
	writeFile(t, dir, "staged", "staged file\n")
	gitRun(t, dir, "add", "staged")
	writeFile(t, dir, "src/new.go", "package src\n")
	writeFile(t, dir, "debug.log", "ignored\n")
	writeFile(t, dir, ".kuberunner/artifacts/x.zip", "not source\n")
	indexBefore := gitRun(t, dir, "ls-files", "--stage")
	refsBefore := gitRun(t, dir, "for-each-ref")
	statusBefore := gitRun(t, dir, "status", "--porcelain")

	g, url := startGitServer(t, dir, true)
	if g.Sha() == head {
		t.Fatal("the snapshot is HEAD, want a commit of the working tree")
	}
	clone := filepath.Join(t.TempDir(), "clone")
	gitRun(t, ".", "clone", "--quiet", withCreds(url, testToken), clone)
	got := map[string]string{}
	for _, f := range []string{"README", "staged", "src/new.go", "debug.log", ".kuberunner/artifacts/x.zip"} {
		got[f] = readFile(t, filepath.Join(clone, f))
	}
	want := map[string]string{
		"README": "uncommitted edit\n", "staged": "staged file\n", "src/new.go": "package src\n",
		"debug.log": "<missing>", ".kuberunner/artifacts/x.zip": "<missing>",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("cloned files -want +got:\n%s", d)
	}
	if parent := gitRun(t, clone, "rev-parse", "HEAD^"); parent != head {
		t.Errorf("the snapshot's parent is %s, want HEAD %s", parent, head)
	}

	// The user's repository is exactly as it was: index, refs, status, no new objects.
	if d := cmp.Diff(indexBefore, gitRun(t, dir, "ls-files", "--stage")); d != "" {
		t.Errorf("the user's index changed -before +after:\n%s", d)
	}
	if d := cmp.Diff(refsBefore, gitRun(t, dir, "for-each-ref")); d != "" {
		t.Errorf("the user's refs changed -before +after:\n%s", d)
	}
	if d := cmp.Diff(statusBefore, gitRun(t, dir, "status", "--porcelain")); d != "" {
		t.Errorf("the user's status changed -before +after:\n%s", d)
	}
	gitFails(t, dir, "cat-file", "-e", g.Sha()) // the snapshot commit lives only in the snapshot
}

func TestGitServerUncommittedWithoutChangesIsHEAD(t *testing.T) {
	dir := newTestRepo(t)
	g, _ := startGitServer(t, dir, true)
	if head := gitRun(t, dir, "rev-parse", "HEAD"); g.Sha() != head {
		t.Errorf("Sha = %s, want HEAD %s for a clean tree", g.Sha(), head)
	}
}

// TestGitServerSnapshotWithIgnoredStateDir: a repository that ignores .kuberunner itself
// (as this one does) snapshots too; git add refuses an exclude naming an ignored path.
func TestGitServerSnapshotWithIgnoredStateDir(t *testing.T) {
	dir := newTestRepo(t)
	writeFile(t, dir, ".gitignore", "/.kuberunner/\n")
	gitRun(t, dir, "add", ".gitignore")
	gitRun(t, dir, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "ignore state")
	writeFile(t, dir, "README", "uncommitted edit\n")
	writeFile(t, dir, ".kuberunner/pipelines/1/x", "state\n")
	g, url := startGitServer(t, dir, true)
	clone := filepath.Join(t.TempDir(), "clone")
	gitRun(t, ".", "clone", "--quiet", withCreds(url, testToken), clone)
	if got := readFile(t, filepath.Join(clone, "README")); got != "uncommitted edit\n" {
		t.Errorf("README = %q, want the uncommitted edit (snapshot %s)", got, g.Sha())
	}
	if got := readFile(t, filepath.Join(clone, ".kuberunner/pipelines/1/x")); got != "<missing>" {
		t.Errorf("the state directory was served: %q", got)
	}
}
