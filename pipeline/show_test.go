package pipeline

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/kuberunner/kuberunner/pipeline/compiler"
)

const showPipeline = `
variables:
  REGISTRY: registry.example.com
  GOFLAGS: -mod=mod
build:
  script: make
  needs: []
  variables:
    GOFLAGS: -mod=vendor
test:
  script: go test
`

func TestShowPrintsWhatTheFileSays(t *testing.T) {
	p, err := compiler.Compile(compiler.Input{
		FS: fstest.MapFS{".gitlab-ci.yml": {Data: []byte(showPipeline)}}, File: ".gitlab-ci.yml",
	})
	if err != nil {
		t.Fatal(err)
	}
	y, err := Show(p, "yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := string(y)
	if strings.Count(out, "registry.example.com") != 1 || strings.Contains(out, "null") {
		t.Errorf("the global variable should show once and no field be null:\n%s", out)
	}
	if !strings.Contains(out, "value: -mod=vendor") || !strings.Contains(out, "needs: []") {
		t.Errorf("build's own variable and its needs: [] should show:\n%s", out)
	}
	if strings.Index(out, "stages:") > strings.Index(out, "jobs:") {
		t.Errorf("the keys lost their order:\n%s", out)
	}
	j, err := Show(p, "json")
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(j) {
		t.Fatalf("show --format json is not JSON:\n%s", j)
	}
	var fromJSON, fromYAML any // JSON is YAML: one decoder, one set of number types
	if err := yaml.Unmarshal(j, &fromJSON); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(y, &fromYAML); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(fromYAML, fromJSON); d != "" {
		t.Errorf("yaml and json differ -yaml +json:\n%s", d)
	}
	if _, err := Show(p, "toml"); err == nil {
		t.Error("Show(toml) did not fail")
	}
	if len(p.Jobs[0].Variables) < 2 {
		t.Errorf("Show changed the pipeline: %+v", p.Jobs[0].Variables)
	}
}

// A trigger job shows as GitLab's lint names it, trigger:, with the child it runs.
func TestShowListsTheBridge(t *testing.T) {
	p, err := compiler.Compile(compiler.Input{FS: fstest.MapFS{
		".gitlab-ci.yml": {Data: []byte("child:\n  trigger:\n    include: ci/child.yml\n    strategy: depend\n")},
		"ci/child.yml":   {Data: []byte("inner:\n  script: echo inner\n")},
	}, File: ".gitlab-ci.yml"})
	if err != nil {
		t.Fatal(err)
	}
	j, err := Show(p, "json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Jobs []struct {
			Name    string
			Script  []string
			Trigger struct {
				Include  []struct{ Local string }
				Strategy string
			}
			ChildPipeline struct{ Jobs []struct{ Name string } } `json:"child_pipeline"`
		}
	}
	if err := json.Unmarshal(j, &doc); err != nil {
		t.Fatal(err)
	}
	got := doc.Jobs[0]
	if got.Name != "child" || got.Script != nil || len(got.Trigger.Include) != 1 ||
		got.Trigger.Include[0].Local != "ci/child.yml" || got.Trigger.Strategy != "depend" ||
		len(got.ChildPipeline.Jobs) != 1 || got.ChildPipeline.Jobs[0].Name != "inner" {
		t.Errorf("the bridge shows as %+v:\n%s", got, j)
	}
}
