//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/e2e/e2eutil"
	"github.com/kuberunner/kuberunner/executor"
	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/internal/testio"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/pipeline"
	"github.com/kuberunner/kuberunner/runner"
)

// localRun is one `kuberunner pipeline run` of a repository with an image registry,
// BuildKit and deploy access, with what the cluster saw of it recorded.
type localRun struct {
	res    pipeline.Result
	out    string // the terminal output: every job's log
	log    string // the runner's own log
	pods   []*corev1.Pod
	tokens []string // values of CI_REGISTRY_PASSWORD, read from the job Secrets
}

// imageEnv is what the image-build tests share: the cluster, a jobs namespace and a deploy
// namespace, a registry path of their own.
type imageEnv struct {
	client   kubernetes.Interface
	images   e2eutil.Images
	jobsNS   string
	deployNS string
}

func newImageEnv(t testing.TB) *imageEnv {
	t.Helper()
	images, err := e2eutil.LoadImages()
	if err != nil {
		t.Fatal(err)
	}
	if images.Kuberunner == "" || images.Buildkit == "" {
		t.Fatal("KR_IMAGE_KUBERUNNER and KR_IMAGE_BUILDKIT must be set: e2e/cluster/cluster up builds them")
	}
	c := e2eutil.Client(t)
	return &imageEnv{client: c, images: images, jobsNS: e2eutil.Namespace(t, c), deployNS: e2eutil.Namespace(t, c)}
}

// run runs the repository's pipeline file; edit may change the runner's Kubernetes section.
func (e *imageEnv) run(t testing.TB, repo, file string, vars []string, edit func(*config.Kubernetes)) localRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	rec := e.record(ctx, t)
	k := config.Kubernetes{
		Kubeconfig: e2eutil.Kubeconfig(), Namespace: e.jobsNS,
		HelperImage: e.images.Kuberunner, Image: e.images.Busybox,
		BuildKit:           config.BuildKit{Image: e.images.Buildkit},
		InsecureRegistries: []string{e.images.Registry},
		Deploy:             []config.Deploy{{Environment: "staging", Namespace: e.deployNS, ClusterRole: "edit"}},
	}
	if edit != nil {
		edit(&k)
	}
	var out bytes.Buffer
	logs := &testio.Buffer{}
	res, err := pipeline.Run(ctx, pipeline.Options{
		Dir: repo, File: file,
		Vars:     append([]string{"BASE_IMAGE=" + e.images.Busybox}, vars...),
		Listen:   net.JoinHostPort(nodeIP(), "0"),
		Registry: e.images.Registry,
		Runner:   config.Runner{Kubernetes: k},
		Executor: func(rc config.Runner) (runner.Executor, error) {
			return executor.NewKubernetes(rc, executor.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
		},
		Out:           &out,
		Logger:        slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		TraceInterval: 200 * time.Millisecond,
	})
	t.Logf("pipeline output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	r := rec.stop()
	r.res, r.out, r.log = res, out.String(), logs.String()
	return r
}

type recorder struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	run    localRun
}

// record watches the jobs' namespace for pods (their specs as created) and job Secrets
// (the registry password each job got), until stop.
func (e *imageEnv) record(ctx context.Context, t testing.TB) *recorder {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	r := &recorder{cancel: cancel, done: make(chan struct{})}
	pods, err := e.client.CoreV1().Pods(e.jobsNS).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := e.client.CoreV1().Secrets(e.jobsNS).Watch(ctx, metav1.ListOptions{LabelSelector: jobpod.LabelJobID})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(r.done)
		defer pods.Stop()
		defer secrets.Stop()
		for {
			select {
			case ev := <-pods.ResultChan():
				if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type == watch.Added {
					r.mu.Lock()
					r.run.pods = append(r.run.pods, p)
					r.mu.Unlock()
				}
			case ev := <-secrets.ResultChan():
				if s, ok := ev.Object.(*corev1.Secret); ok && ev.Type == watch.Added {
					var job jobspec.Job
					if json.Unmarshal(s.Data[jobpod.JobFile], &job) == nil {
						if v, ok := job.Variables.Lookup("CI_REGISTRY_PASSWORD"); ok {
							r.mu.Lock()
							r.run.tokens = append(r.run.tokens, v)
							r.mu.Unlock()
						}
					}
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return r
}

func (r *recorder) stop() localRun {
	r.cancel()
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.run
}

// job is the result of the named job.
func (r localRun) job(t testing.TB, name string) pipeline.JobResult {
	t.Helper()
	for _, j := range r.res.Jobs {
		if j.Name == name {
			return j
		}
	}
	t.Fatalf("no job %q in the pipeline", name)
	return pipeline.JobResult{}
}

// appRepo is a git repository on main holding examples/app (its pipeline file
// examples/app/.gitlab-ci.yml), committed.
func appRepo(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("..", "examples", "app")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join("..", "examples", "app"), path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, "examples", "app", rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	gitIn(t, dir, "init", "-q", "-b", "main")
	// The project path names the registry repository (CI_REGISTRY_IMAGE): one per test
	// run, so no build starts with another's cache.
	gitIn(t, dir, "remote", "add", "origin", fmt.Sprintf("https://gitlab.example.com/e2e/app-%d.git", time.Now().UnixNano()))
	commitAll(t, dir, "the app")
	return dir
}

// projectPath is the repository's project path, as the pipeline computes it.
func projectPath(t testing.TB, dir string) string {
	t.Helper()
	url := gitIn(t, dir, "remote", "get-url", "origin")
	return strings.TrimSuffix(strings.TrimPrefix(url, "https://gitlab.example.com/"), ".git")
}

func gitIn(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func commitAll(t testing.TB, dir, msg string) string {
	t.Helper()
	gitIn(t, dir, "add", "-A")
	gitIn(t, dir, "-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid", "commit", "-q", "-m", msg)
	return gitIn(t, dir, "rev-parse", "HEAD")
}

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// registryDigest asks the registry for the digest of repo:tag.
func registryDigest(t testing.TB, registry, repo, tag string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodHead, fmt.Sprintf("http://%s/v2/%s/manifests/%s", registry, repo, tag), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", strings.Join([]string{
		"application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
		"application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v2+json",
	}, ", "))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("registry: %s:%s: %s", repo, tag, resp.Status)
	}
	return resp.Header.Get("Docker-Content-Digest")
}
