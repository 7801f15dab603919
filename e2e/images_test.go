//go:build e2e

package e2e

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/pipeline"
)

const appPipeline = "examples/app/.gitlab-ci.yml"

// TestAppPipelineBuildsTestsPushesDeploys runs examples/app's pipeline, the one `make demo`
// runs, under the hardened profile: the image built with rootless BuildKit is pushed, run
// as a service and as a job image, re-tagged without a rebuild, and deployed with the
// deploy job's own scoped access, which is gone afterwards.
func TestAppPipelineBuildsTestsPushesDeploys(t *testing.T) {
	e := newImageEnv(t)
	repo := appRepo(t)
	sha := gitIn(t, repo, "rev-parse", "HEAD")
	r := e.run(t, repo, appPipeline, nil, func(k *config.Kubernetes) {
		k.SecurityContext.Profile = config.ProfileHardened
	})
	want := map[string]pipeline.Status{
		"build": pipeline.StatusSuccess, "test": pipeline.StatusSuccess, "inspect": pipeline.StatusSuccess,
		"push": pipeline.StatusSuccess, "deploy": pipeline.StatusSuccess, "rollback": pipeline.StatusSkipped,
	}
	for name, status := range want {
		if j := r.job(t, name); j.Status != status {
			t.Errorf("job %s: %s, want %s", name, j.Describe(), status)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	repoPath := projectPath(t, repo) + "/app"

	t.Run("pushed digest is the one built, and tags keep it", func(t *testing.T) {
		m := regexp.MustCompile(`pushed \S+/app:tmp@(sha256:[0-9a-f]{64})`).FindStringSubmatch(r.out)
		if m == nil {
			t.Fatal("the build printed no pushed digest")
		}
		for _, tag := range []string{"tmp", sha, "main"} {
			if got := registryDigest(t, e.images.Registry, repoPath, tag); got != m[1] {
				t.Errorf("registry %s:%s = %s, want the built %s", repoPath, tag, got, m[1])
			}
		}
	})
	t.Run("the app runs the commit's image", func(t *testing.T) {
		d, err := e.client.AppsV1().Deployments(e.deployNS).Get(context.Background(), "demo-app", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if img := d.Spec.Template.Spec.Containers[0].Image; !strings.HasSuffix(img, "/app:"+sha) || d.Status.AvailableReplicas != 1 {
			t.Errorf("deployment: image %s, %d available; want app:%s, 1", img, d.Status.AvailableReplicas, sha)
		}
	})
	t.Run("every container unprivileged, the pod token never mounted", func(t *testing.T) {
		checkJobPodSecurity(t, r)
	})
	t.Run("registry password appears nowhere", func(t *testing.T) {
		checkSecretsNowhere(t, e, r)
	})
	t.Run("deploy access gone", func(t *testing.T) {
		checkNoDeployAccessLeft(t, e)
	})
}

// TestImageBuildCache: the second build of an unchanged context is all cache hits (from
// the registry cache: each job's BuildKit starts empty), a one-line change rebuilds only
// from that layer. Which steps ran is what is checked; the times are logged, not compared:
// with this tiny context the pod's start dominates them (it failed once at 3.9 s cached
// against 3.6 s cold).
func TestImageBuildCache(t *testing.T) {
	cold, cached, changed := buildThrice(t, newImageEnv(t))
	if steps, missing := buildSteps(cached.out); len(steps) < 4 || len(missing) > 0 || ran("writing the credits", cached.out) {
		t.Errorf("unchanged context: steps %v, not cached %v; want every step cached", steps, missing)
	}
	// A step reused from the registry cache whose layer a later step needs is downloaded,
	// not marked CACHED: what tells is whether its command ran.
	if ran("writing the credits", changed.out) || !ran("rendering index.html", changed.out) {
		t.Errorf("one-line change: want the step before COPY site/ reused and the one after it run:\n%s", changed.out)
	}
	t.Logf("build times: first %s, unchanged %s, one-line change %s", cold.took, cached.took, changed.took)
}

// buildRun is one image build job: how long it took and the pipeline's output.
type buildRun struct {
	took time.Duration
	out  string
}

// buildThrice builds examples/app through a local pipeline three times: from nothing, with
// nothing changed (every step comes from the registry cache: each job's BuildKit starts
// empty), and after a one-line change to a file copied late in the Dockerfile.
func buildThrice(t testing.TB, e *imageEnv) (cold, cached, changed buildRun) {
	repo := appRepo(t)
	writeFile(t, repo+"/build.yml", `
build:
  image: $BASE_IMAGE
  variables: {KUBERUNNER_BUILDKIT: "true"}
  script:
    - kuberunner build --push -t "$CI_REGISTRY_IMAGE/app:tmp" --build-arg "BASE_IMAGE=$BASE_IMAGE" examples/app
`)
	commitAll(t, repo, "build only")
	build := func(name string) buildRun {
		r := e.run(t, repo, "build.yml", nil, nil)
		j := r.job(t, "build")
		if j.Status != pipeline.StatusSuccess {
			t.Fatalf("%s build: %s", name, j.Describe())
		}
		return buildRun{j.Duration, r.out}
	}
	cold, cached = build("first"), build("unchanged")
	writeFile(t, repo+"/examples/app/site/index.html.in", "<p>changed, version @VERSION@</p>\n")
	commitAll(t, repo, "one line")
	return cold, cached, build("one-line change")
}

// TestImageBuildFailingRun: a failing RUN step fails the job with script_failure, the
// step's output and its exit code.
func TestImageBuildFailingRun(t *testing.T) {
	e := newImageEnv(t)
	repo := appRepo(t)
	writeFile(t, repo+"/broken/Dockerfile", "ARG BASE_IMAGE=busybox\nFROM ${BASE_IMAGE}\nRUN echo step-output-$((6*7)) && exit 7\n")
	writeFile(t, repo+"/build.yml", `
build:
  image: $BASE_IMAGE
  variables: {KUBERUNNER_BUILDKIT: "true"}
  script:
    - kuberunner build --build-arg "BASE_IMAGE=$BASE_IMAGE" broken
`)
	commitAll(t, repo, "broken build")
	r := e.run(t, repo, "build.yml", nil, nil)
	j := r.job(t, "build")
	if j.Status != pipeline.StatusFailed || j.FailureReason != jobspec.ScriptFailure || j.ExitCode != 7 {
		t.Errorf("build: %s; want failed: script_failure, exit code 7", j.Describe())
	}
	if !strings.Contains(r.out, "step-output-42") {
		t.Errorf("the trace lacks the failing step's output")
	}
}

// TestDeployAccessIsScoped: a deploy job acts in its environment's namespace and nowhere
// else; a job without an environment has no kubeconfig and no token; nothing is left.
func TestDeployAccessIsScoped(t *testing.T) {
	e := newImageEnv(t)
	repo := appRepo(t)
	writeFile(t, repo+"/deploy.yml", `
default:
  image: $BASE_IMAGE
deploy:
  environment: staging
  script:
    - kubectl create configmap deployed-by-job --from-literal=sha=$CI_COMMIT_SHA
    - if kubectl get secrets -n default; then echo "reached another namespace"; exit 1; fi
    - if kubectl get pods -n $JOBS_NS; then echo "reached the jobs' namespace"; exit 1; fi
no-environment:
  script:
    - test -z "$KUBECONFIG"
    - test ! -e /var/run/secrets/kubernetes.io/serviceaccount/token
    - if command -v kubectl; then kubectl get pods && exit 1; fi; true
`)
	commitAll(t, repo, "deploy checks")
	r := e.run(t, repo, "deploy.yml", []string{"JOBS_NS=" + e.jobsNS}, nil)
	for _, name := range []string{"deploy", "no-environment"} {
		if j := r.job(t, name); j.Status != pipeline.StatusSuccess {
			t.Errorf("%s: %s", name, j.Describe())
		}
	}
	if _, err := e.client.CoreV1().ConfigMaps(e.deployNS).Get(context.Background(), "deployed-by-job", metav1.GetOptions{}); err != nil {
		t.Errorf("the deploy job's ConfigMap: %v", err)
	}
	if !strings.Contains(r.out, "Forbidden") && !strings.Contains(r.out, "forbidden") {
		t.Errorf("the out-of-namespace request was not refused by the API server")
	}
	checkNoDeployAccessLeft(t, e)
}

// ran reports whether a RUN step printed line: "#7 0.052 line" in plain progress.
func ran(line, out string) bool {
	return regexp.MustCompile(`#\d+ \d+\.\d+ ` + regexp.QuoteMeta(line)).MatchString(out)
}

var stepLine = regexp.MustCompile(`#(\d+) \[[^\]]+\] ((?:RUN|COPY)[^\n]*)`)

// buildSteps are the RUN and COPY steps of the one build in a plain progress log, and those
// of them that were not CACHED.
func buildSteps(out string) (steps, notCached []string) {
	for _, m := range stepLine.FindAllStringSubmatch(out, -1) {
		if slices.Contains(steps, m[2]) {
			continue
		}
		steps = append(steps, m[2])
		if !strings.Contains(out, "#"+m[1]+" CACHED") {
			notCached = append(notCached, m[2])
		}
	}
	return steps, notCached
}
