//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/pipeline"
)

// TestRootImageWorksByDefault: a root Debian image does what apt-get and cp -a do (chown to
// other users, switch user ids), as with gitlab-runner, under the default profile; the
// hardened profile refuses the same, as it should.
func TestRootImageWorksByDefault(t *testing.T) {
	e := newImageEnv(t)
	repo := appRepo(t)
	writeFile(t, repo+"/root.yml", `
root-tools:
  image: $DEBIAN
  script:
    - id -u
    - touch f && chown 1234:5678 f && cp -a f g && stat -c %u:%g g | tee owner.txt
    - test "$(cat owner.txt)" = 1234:5678
    - setpriv --reuid=65534 --regid=65534 --clear-groups id -u | tee uid.txt
    - test "$(cat uid.txt)" = 65534
`)
	commitAll(t, repo, "root tools")
	vars := []string{"DEBIAN=" + e.images.DebianGit}
	r := e.run(t, repo, "root.yml", vars, nil)
	if j := r.job(t, "root-tools"); j.Status != pipeline.StatusSuccess {
		t.Fatalf("default profile: %s", j.Describe())
	}
	r = e.run(t, repo, "root.yml", vars, func(k *config.Kubernetes) { k.SecurityContext.Profile = config.ProfileHardened })
	if j := r.job(t, "root-tools"); j.Status != pipeline.StatusFailed {
		t.Errorf("hardened profile: %s; want the chown refused", j.Describe())
	}
}

// TestDotenvHandoff: variables of a job's artifacts:reports:dotenv reach the jobs that take
// its artifacts, as on GitLab, and not those that do not.
func TestDotenvHandoff(t *testing.T) {
	e := newImageEnv(t)
	repo := appRepo(t)
	writeFile(t, repo+"/dotenv.yml", `
default:
  image: $BASE_IMAGE
build:
  stage: build
  script:
    - echo "VERSION=1.2.$CI_PIPELINE_ID" > build.env
  artifacts:
    reports: {dotenv: build.env}
deploy:
  stage: deploy
  needs: [build]
  script:
    - echo "deploying version $VERSION"
    - test "$VERSION" = "1.2.$CI_PIPELINE_ID"
unrelated:
  stage: deploy
  needs: []
  script:
    - test -z "$VERSION"
`)
	commitAll(t, repo, "dotenv")
	r := e.run(t, repo, "dotenv.yml", nil, nil)
	for _, name := range []string{"build", "deploy", "unrelated"} {
		if j := r.job(t, name); j.Status != pipeline.StatusSuccess {
			t.Errorf("%s: %s", name, j.Describe())
		}
	}
	if !strings.Contains(r.out, "deploying version 1.2.") {
		t.Errorf("the deploy job did not print the handed-over version")
	}
}

// TestCrashingServiceIsReported: a service that exits at once does not stall the job. When
// the kubelet holds the job's own container back for a sidecar that never stays up, the job
// fails as runner_system_failure after the service wait timeout, not after its own timeout,
// with the service's exit and last log lines in the job log. When the kubelet starts the
// job's container anyway (the sidecar ran for a moment) and the pod reports the job's end
// itself, the runner's warning cannot join the trace any more: it wrote it while the pod
// owned the trace (a known limit, see the note on issue 9).
func TestCrashingServiceIsReported(t *testing.T) {
	e := newImageEnv(t)
	repo := appRepo(t)
	writeFile(t, repo+"/svc.yml", `
with-broken-service:
  image: $BASE_IMAGE
  services:
    - name: $BASE_IMAGE
      alias: db
      entrypoint: ["sh", "-c", "echo database-cannot-start-$((40+2)); exit 3"]
  script:
    - sleep 5
    - echo script-ran
`)
	commitAll(t, repo, "broken service")
	start := time.Now()
	r := e.run(t, repo, "svc.yml", nil, func(k *config.Kubernetes) { k.ServiceWaitTimeout = config.Duration(20 * time.Second) })
	took := time.Since(start)
	j := r.job(t, "with-broken-service")
	warned := strings.Contains(r.out, "database-cannot-start-42") && strings.Contains(r.out, "exited with code 3")
	if j.FailureReason == jobspec.RunnerSystemFailure && !warned {
		t.Errorf("the service's exit and log lines are not in the job log")
	}
	if took > 2*time.Minute {
		t.Errorf("the job took %s: the broken service stalled it", took)
	}
	if j.Status != pipeline.StatusSuccess && j.FailureReason != jobspec.RunnerSystemFailure {
		t.Errorf("job: %s; want success (the script ran) or runner_system_failure", j.Describe())
	}
	t.Logf("job: %s in %s", j.Describe(), took)
}

// TestLocalPipelineCache: cache: works in local pipelines with nothing configured; the
// second run restores what the first saved, and the log says both.
func TestLocalPipelineCache(t *testing.T) {
	e := newImageEnv(t)
	repo := appRepo(t)
	writeFile(t, repo+"/cache.yml", `
deps:
  image: $BASE_IMAGE
  cache:
    key: deps
    paths: [deps/]
  script:
    - if [ -f deps/made ]; then echo "cache hit from $(cat deps/made)"; else echo cache miss; mkdir -p deps; echo "pipeline $CI_PIPELINE_ID" > deps/made; fi
`)
	commitAll(t, repo, "cache")
	first := e.run(t, repo, "cache.yml", nil, nil)
	if !strings.Contains(first.out, "cache miss") || !strings.Contains(first.out, `Saved cache "deps"`) {
		t.Errorf("first run: want a miss and the cache saved")
	}
	second := e.run(t, repo, "cache.yml", nil, nil)
	if !strings.Contains(second.out, `Restored cache "deps"`) || !strings.Contains(second.out, "cache hit from pipeline") {
		t.Errorf("second run: want the cache restored and used")
	}
}
