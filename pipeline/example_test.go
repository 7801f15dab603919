package pipeline

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/pipeline/compiler"
)

// The demo pipeline of examples/ compiles, and a dry run of its schedule (every job
// succeeding except lint) gives what its comments promise.
func TestExamplePipeline(t *testing.T) {
	vars := compiler.PredefinedVariables(compiler.GitState{Sha: "1234567890abcdef1234567890abcdef12345678",
		Branch: "main", DefaultBranch: "main", ProjectName: "demo", ProjectPath: "group/demo"})
	p, err := compiler.Compile(compiler.Input{FS: os.DirFS("../examples"), File: ".gitlab-ci.yml", Variables: vars})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]compiler.SkippedJob{{Name: "docs", Stage: "test", Line: 67, Reason: "rules: no rule matched"}}, p.Skipped); d != "" {
		t.Errorf("skipped -want +got:\n%s", d)
	}
	s, err := NewScheduler(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	events, final := simulate(t, s, map[string][]Outcome{"lint": {fail}}, "")
	want := map[string]string{
		"(pipeline)": "success", "build": "success", "describe": "success", "lint": "failed (allowed)",
		"test: [sh]": "success", "test: [ash]": "success", "package": "success",
		"cleanup": "skipped", "summary": "success",
	}
	if d := cmp.Diff(want, final); d != "" {
		t.Errorf("final -want +got:\n%s\nevents: %v", d, events)
	}
	wantEvents := []string{"+build", "+describe", "+lint", "build=success", "+test: [sh]", "+test: [ash]",
		"describe=success", "lint=failed", "test: [sh]=success", "test: [ash]=success", "+package",
		"package=success", "+summary", "summary=success"}
	if d := cmp.Diff(wantEvents, events); d != "" {
		t.Errorf("events -want +got:\n%s", d)
	}
}
