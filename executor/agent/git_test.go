package agent

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/jobspec"
)

// initRepo makes dir a git repository with files committed, and returns the commit.
func initRepo(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	writeFiles(t, dir, files)
	git := func(args ...string) string {
		return mustRun(t, "git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	}
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		git("init", "--quiet", "--initial-branch=main")
	}
	git("add", "--all")
	git("commit", "--quiet", "-m", "commit")
	return git("rev-parse", "HEAD")
}

func gitJob(repoURL, sha string, vars ...jobspec.Variable) *jobspec.Job {
	j := baseJob("true")
	j.Variables = append(jobspec.Variables{{Key: "CI_JOB_TOKEN", Value: "job-token-s3cr3t", Masked: true}}, vars...)
	j.GitInfo = jobspec.GitInfo{RepoURL: repoURL, Ref: "main", Sha: sha, RefType: "branch",
		Refspecs: []string{"+refs/heads/main:refs/remotes/origin/main"}}
	return j
}

func TestPrepareClonesAndFetches(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	first := initRepo(t, src, map[string]string{"README": "v1"})
	second := initRepo(t, src, map[string]string{"README": "v2", "dir/file": "f"})
	url := "file://" + src

	tests := []struct {
		name     string
		sha      string
		vars     []jobspec.Variable
		want     map[string]string // file -> content
		wantHead string
	}{
		{"clone latest", second, nil, map[string]string{"README": "v2", "dir/file": "f"}, second},
		{"clone older commit", first, nil, map[string]string{"README": "v1"}, first},
		{"shallow clone", second, []jobspec.Variable{{Key: "GIT_DEPTH", Value: "1", Public: true}}, map[string]string{"README": "v2"}, second},
		{"no checkout", second, []jobspec.Variable{{Key: "GIT_CHECKOUT", Value: "false", Public: true}}, map[string]string{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, gitJob(url, tc.sha, tc.vars...))
			if code := Prepare(context.Background(), e.options()); code != 0 {
				t.Fatalf("prepare exit code %d; log:\n%s", code, e.log.String())
			}
			for name, want := range tc.want {
				got, err := os.ReadFile(filepath.Join(e.project, name))
				if err != nil || string(got) != want {
					t.Errorf("%s = %q, %v; want %q", name, got, err, want)
				}
			}
			if tc.wantHead != "" {
				if got := mustRun(t, "git", "-C", e.project, "rev-parse", "HEAD"); got != tc.wantHead {
					t.Errorf("HEAD = %s, want %s", got, tc.wantHead)
				}
			}
			if tc.name == "shallow clone" {
				if got := mustRun(t, "git", "-C", e.project, "rev-list", "--count", "HEAD"); got != "1" {
					t.Errorf("history has %s commits, want 1", got)
				}
			}
			if _, err := os.Stat(filepath.Join(e.binDir, "kuberunner")); err != nil {
				t.Errorf("agent binary not installed: %v", err)
			}
		})
	}

	t.Run("fetch reuses the repository and cleans it", func(t *testing.T) {
		e := newEnv(t, gitJob(url, first, jobspec.Variable{Key: "GIT_STRATEGY", Value: "fetch", Public: true}))
		if code := Prepare(context.Background(), e.options()); code != 0 {
			t.Fatalf("first prepare: %d\n%s", code, e.log.String())
		}
		writeFiles(t, e.project, map[string]string{"leftover": "x"})
		e2 := newEnv(t, gitJob(url, second, jobspec.Variable{Key: "GIT_STRATEGY", Value: "fetch", Public: true}))
		o := e2.options()
		o.JobDir = e2.jobDir
		writeAgentConfig(t, e2.jobDir, e.project)
		if code := Prepare(context.Background(), o); code != 0 {
			t.Fatalf("second prepare: %d\n%s", code, e2.log.String())
		}
		if !strings.Contains(e2.log.String(), "Fetching changes from "+url+"\n") {
			t.Errorf("second prepare did not reuse the repository:\n%s", e2.log.String())
		}
		if _, err := os.Stat(filepath.Join(e.project, "leftover")); !os.IsNotExist(err) {
			t.Errorf("git clean left an untracked file: %v", err)
		}
		if got := mustRun(t, "git", "-C", e.project, "rev-parse", "HEAD"); got != second {
			t.Errorf("HEAD = %s, want %s", got, second)
		}
	})
}

func writeAgentConfig(t *testing.T, jobDir, project string) {
	t.Helper()
	cfg := jobpod.Config{GitLabURL: "https://gitlab.example.com", BuildsDir: filepath.Dir(filepath.Dir(project)), ProjectDir: project}
	if err := os.WriteFile(filepath.Join(jobDir, jobpod.ConfigFile), mustJSON(t, cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPrepareSendsTokenOnlyAsHeader serves a repository URL on loopback that refuses
// every request: the clone fails, but what git sent, and what was printed, can be checked.
func TestPrepareSendsTokenOnlyAsHeader(t *testing.T) {
	var mu sync.Mutex
	var auths, paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths, paths = append(auths, r.Header.Get("Authorization")), append(paths, r.URL.String())
		mu.Unlock()
		http.Error(w, "no", http.StatusNotFound)
	}))
	defer srv.Close()
	repoURL := strings.Replace(srv.URL, "http://", "http://gitlab-ci-token:job-token-s3cr3t@", 1) + "/group/app.git"
	e := newEnv(t, gitJob(repoURL, strings.Repeat("a", 40)))
	if code := Prepare(context.Background(), e.options()); code == 0 {
		t.Fatal("prepare succeeded against a server that refuses everything")
	}
	log := e.log.String()
	if strings.Contains(log, "job-token-s3cr3t") {
		t.Errorf("log shows the token:\n%s", log)
	}
	if !strings.Contains(log, "Fetching changes from "+srv.URL+"/group/app.git") {
		t.Errorf("log does not name the repository without credentials:\n%s", log)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(auths) == 0 {
		t.Fatal("git made no request")
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("gitlab-ci-token:job-token-s3cr3t"))
	if d := cmp.Diff(want, auths[0]); d != "" {
		t.Errorf("Authorization header -want +got:\n%s", d)
	}
	for _, p := range paths {
		if strings.Contains(p, "s3cr3t") {
			t.Errorf("token in request path %q", p)
		}
	}
	if f := e.failure(t); f == nil || f.Reason != string(jobspec.RunnerSystemFailure) || strings.Contains(f.Message, "s3cr3t") {
		t.Errorf("termination message = %+v", f)
	}
}

func TestRepoHeaderIsScopedToOrigin(t *testing.T) {
	r, err := newRepo(&jobspec.Job{Token: "t1", GitInfo: jobspec.GitInfo{RepoURL: "https://gitlab-ci-token:t2@gitlab.example.com:8443/g/p.git"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.url != "https://gitlab.example.com:8443/g/p.git" || r.token != "t2" {
		t.Errorf("repo = %q token %q", r.url, r.token)
	}
	env := strings.Join(r.env(), "\n")
	if !strings.Contains(env, "GIT_CONFIG_KEY_0=http.https://gitlab.example.com:8443/.extraHeader") {
		t.Errorf("header not scoped to the origin:\n%s", env)
	}
}
