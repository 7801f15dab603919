package compiler

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func varMap(vars []Var) map[string]string {
	m := map[string]string{}
	for _, v := range vars {
		m[v.Key] = v.Value
	}
	return m
}

func TestPredefinedVariables(t *testing.T) {
	tests := []struct {
		name string
		git  GitState
		want map[string]string // a subset of what must be there
		gone []string          // keys that must be absent
	}{
		{
			name: "branch",
			git: GitState{Sha: "0123456789abcdef0123456789abcdef01234567", Branch: "Feature/Login_Page",
				Message: "Fix login\n\nThe button did nothing.\n", DefaultBranch: "main",
				ProjectName: "app", ProjectPath: "acme/web/app"},
			want: map[string]string{
				"CI": "true", "CI_PIPELINE_SOURCE": "push",
				"CI_COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567", "CI_COMMIT_SHORT_SHA": "01234567",
				"CI_COMMIT_BEFORE_SHA": zeroSha, "CI_COMMIT_BRANCH": "Feature/Login_Page",
				"CI_COMMIT_REF_NAME": "Feature/Login_Page", "CI_COMMIT_REF_SLUG": "feature-login-page",
				"CI_COMMIT_MESSAGE": "Fix login\n\nThe button did nothing.\n", "CI_COMMIT_TITLE": "Fix login",
				"CI_COMMIT_DESCRIPTION": "The button did nothing.", "CI_DEFAULT_BRANCH": "main",
				"CI_PROJECT_NAME": "app", "CI_PROJECT_PATH": "acme/web/app", "CI_PROJECT_PATH_SLUG": "acme-web-app",
				"CI_PROJECT_NAMESPACE": "acme/web", "CI_PROJECT_ROOT_NAMESPACE": "acme",
			},
			gone: []string{"CI_COMMIT_TAG"},
		},
		{
			name: "tag",
			git:  GitState{Sha: "abc", BeforeSha: "def", Tag: "v1.0.0", Message: "Release", ProjectPath: "p", ProjectName: "p"},
			want: map[string]string{
				"CI_COMMIT_TAG": "v1.0.0", "CI_COMMIT_REF_NAME": "v1.0.0", "CI_COMMIT_REF_SLUG": "v1-0-0",
				"CI_COMMIT_SHORT_SHA": "abc", "CI_COMMIT_BEFORE_SHA": "def", "CI_COMMIT_TITLE": "Release",
				"CI_COMMIT_DESCRIPTION": "", "CI_PROJECT_NAMESPACE": "",
			},
			gone: []string{"CI_COMMIT_BRANCH"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vars := PredefinedVariables(tc.git)
			got := varMap(vars)
			for k, want := range tc.want {
				if got[k] != want {
					t.Errorf("%s = %q, want %q", k, got[k], want)
				}
			}
			for _, k := range tc.gone {
				if _, ok := got[k]; ok {
					t.Errorf("%s is set, want it absent", k)
				}
			}
			for _, v := range vars {
				if v.Expand {
					t.Errorf("%s has Expand=true; predefined values must be taken literally", v.Key)
				}
			}
		})
	}
}

func TestSlug(t *testing.T) {
	tests := map[string]string{
		"main":                     "main",
		"Feature/ABC_def":          "feature-abc-def",
		"--x--":                    "x",
		"release/1.2":              "release-1-2",
		string(make([]byte, 0)):    "",
		"a" + string(rune(0x00e9)): "a",
	}
	long := ""
	for range 70 {
		long += "a"
	}
	tests[long] = long[:63]
	for in, want := range tests {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}

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
	if _, err := ReadGitState(dir); err == nil {
		t.Fatal("ReadGitState on a directory that is not a repository succeeded")
	}
	run("init", "-q", "-b", "trunk")
	if _, err := ReadGitState(dir); err == nil {
		t.Fatal("ReadGitState on a repository without commits succeeded")
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	run("add", "f")
	run("commit", "-q", "-m", "First")
	run("commit", "-q", "--allow-empty", "-m", "Second\n\nBody text")
	run("remote", "add", "origin", "https://user:secret@gitlab.example.com/acme/tools.git")

	g, err := ReadGitState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Sha) != 40 || len(g.BeforeSha) != 40 || g.Sha == g.BeforeSha {
		t.Errorf("Sha %q, BeforeSha %q: want two different full hashes", g.Sha, g.BeforeSha)
	}
	abs, _ := filepath.Abs(dir)
	want := GitState{Sha: g.Sha, BeforeSha: g.BeforeSha, Branch: "trunk", Message: "Second\n\nBody text",
		DefaultBranch: "trunk", ProjectName: "tools", ProjectPath: "acme/tools", Dir: abs}
	if d := cmp.Diff(want, g); d != "" {
		t.Errorf("ReadGitState -want +got:\n%s", d)
	}

	run("tag", "v2.0.0")
	run("checkout", "-q", "--detach", "v2.0.0")
	g, err = ReadGitState(dir)
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
	if got := projectPath(dir); got != filepath.Base(dir) {
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
		if got := projectPath(dir); got != want {
			t.Errorf("projectPath(%s) = %q, want %q", url, got, want)
		}
		if out, err := exec.Command("git", "-C", dir, "remote", "remove", "origin").CombinedOutput(); err != nil {
			t.Fatalf("git remote remove: %v\n%s", err, out)
		}
	}
}
