//go:build e2e

package e2e

import (
	"strings"
	"testing"

	"github.com/kuberunner/kuberunner/pipeline"
)

// TestChildPipelines: a parent pipeline triggers two local child pipelines with
// strategy: depend on the local cluster; the first gets an input and succeeds, the second
// fails, and each bridge job ends as its child pipeline did.
func TestChildPipelines(t *testing.T) {
	e := newImageEnv(t)
	repo := appRepo(t)
	writeFile(t, repo+"/parent.yml", `
stages: [children, after]
child-ok:
  stage: children
  trigger:
    include:
      - local: ci/child.yml
        inputs: {target: staging}
    strategy: depend
    forward: {pipeline_variables: true}
child-bad:
  stage: children
  allow_failure: true
  trigger:
    include: ci/bad.yml
    strategy: depend
    forward: {pipeline_variables: true}
after:
  stage: after
  image: $BASE_IMAGE
  script: [echo after-the-children]
`)
	writeFile(t, repo+"/ci/child.yml", `
spec:
  inputs:
    target:
---
deploy:
  image: $BASE_IMAGE
  script:
    - echo "deploying to $[[ inputs.target ]] from $CI_PIPELINE_SOURCE"
`)
	writeFile(t, repo+"/ci/bad.yml", `
fails:
  image: $BASE_IMAGE
  script: [echo failing-child, exit 4]
`)
	commitAll(t, repo, "parent and children")
	r := e.run(t, repo, "parent.yml", nil, nil)
	want := map[string]pipeline.Status{
		"child-ok": pipeline.StatusSuccess, "child-ok/deploy": pipeline.StatusSuccess,
		"child-bad": pipeline.StatusFailed, "child-bad/fails": pipeline.StatusFailed,
		"after": pipeline.StatusSuccess,
	}
	for name, status := range want {
		if j := r.job(t, name); j.Status != status {
			t.Errorf("%s: %s, want %s", name, j.Describe(), status)
		}
	}
	if !strings.Contains(r.out, "deploying to staging from parent_pipeline") {
		t.Errorf("the child job did not get its input and pipeline source:\n%s", r.out)
	}
}
