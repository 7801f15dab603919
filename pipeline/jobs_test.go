package pipeline

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/pipeline/compiler"
)

var testEnv = JobEnv{
	Git: compiler.GitState{
		Sha: "1234567890abcdef1234567890abcdef12345678", Branch: "main",
		ProjectName: "project", ProjectPath: "group/project",
	},
	PipelineID: 3,
	ServerURL:  "http://10.0.0.1:8080",
	RepoURL:    "http://10.0.0.1:8080/group/project.git",
	Predefined: []compiler.Var{{Key: "CI_COMMIT_SHA", Value: "1234567890abcdef1234567890abcdef12345678"}, {Key: "SHARED", Value: "predefined"}},
	User:       []compiler.Var{{Key: "SHARED", Value: "from --var", Expand: true}},
	CacheKey:   func(files []string) string { return "sha-of-" + strings.Join(files, "+") },
}

func TestJobPayload(t *testing.T) {
	j := &compiler.Job{
		Name: "test 1/2", Stage: "test", When: "manual",
		Image:        &compiler.Image{Name: "golang:1.26", Entrypoint: []string{""}},
		Services:     []compiler.Image{{Name: "postgres:16", Alias: "db", Variables: []compiler.Var{{Key: "POSTGRES_DB", Value: "ci", Expand: true}}}},
		BeforeScript: []string{"cd src"},
		Script:       []string{"go test ./..."},
		AfterScript:  []string{"echo done"},
		Variables:    []compiler.Var{{Key: "GOFLAGS", Value: "-mod=vendor", Expand: true}, {Key: "LITERAL", Value: "$HOME", Expand: false}},
		Timeout:      "1h 30m",
		Environment:  "review/main",
		Parallel:     &compiler.ParallelInfo{Index: 1, Total: 2},
		Artifacts: &compiler.Artifacts{
			Name: "bin", Paths: []string{"bin/"}, ExpireIn: "1 week",
			Reports: map[string][]string{"junit": {"report.xml"}, "dotenv": {"build.env"}},
		},
		Cache: []compiler.Cache{
			{Key: "gomod", Paths: []string{".cache/"}, Policy: "pull-push", When: "on_success"},
			{KeyFiles: []string{"go.sum"}, KeyPrefix: "deps", Paths: []string{"vendor/"}, Policy: "pull", When: "always"},
		},
	}
	deps := []jobspec.Dependency{{ID: 1, Name: "build"}}
	got, err := JobPayload(j, testEnv, 7, "glcbt-secret", deps, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := jobspec.Job{
		ID: 7, Token: "glcbt-secret",
		JobInfo: jobspec.JobInfo{Name: "test 1/2", Stage: "test", ProjectID: 1, ProjectName: "project",
			ProjectFullPath: "group/project", PipelineID: 3, UserID: 1},
		GitInfo: jobspec.GitInfo{
			RepoURL: "http://10.0.0.1:8080/group/project.git", Ref: "main", RefType: "branch",
			Sha: "1234567890abcdef1234567890abcdef12345678", BeforeSha: strings.Repeat("0", 40), Depth: 20,
			Refspecs: []string{"+refs/pipelines/3:refs/pipelines/3", "+refs/heads/main:refs/remotes/origin/main"},
		},
		RunnerInfo: jobspec.RunnerInfo{Timeout: 5400},
		Steps: []jobspec.Step{
			{Name: "script", Script: []string{"cd src", "go test ./..."}, Timeout: 5400, When: "on_success"},
			{Name: "after_script", Script: []string{"echo done"}, Timeout: 5400, When: "always"},
		},
		Image: jobspec.Image{Name: "golang:1.26", Entrypoint: []string{""}},
		Services: []jobspec.Image{{Name: "postgres:16", Alias: "db",
			Variables: jobspec.Variables{{Key: "POSTGRES_DB", Value: "ci", Public: true}}}},
		Artifacts: []jobspec.Artifact{
			{Name: "bin", Paths: []string{"bin/"}, When: "on_success", ArtifactType: "archive", ArtifactFormat: "zip", ExpireIn: "1 week"},
			{Name: ".env", Paths: []string{"build.env"}, When: "always", ArtifactType: "dotenv", ArtifactFormat: "gzip", ExpireIn: "1 week"},
			{Name: "junit.xml", Paths: []string{"report.xml"}, When: "always", ArtifactType: "junit", ArtifactFormat: "gzip", ExpireIn: "1 week"},
		},
		Cache: []jobspec.Cache{
			{Key: "gomod", Paths: []string{".cache/"}, Policy: "pull-push", When: "on_success"},
			{Key: "deps-sha-of-go.sum", Paths: []string{"vendor/"}, Policy: "pull", When: "always"},
		},
		Dependencies: deps,
		Features:     jobspec.JobFeatures{TraceSections: true, TokenMaskPrefixes: []string{"glcbt-", "glrt-", "glpat-"}},
	}
	if d := cmp.Diff(want, got, cmpopts.IgnoreFields(jobspec.Job{}, "Variables"), cmpopts.IgnoreFields(jobspec.JobFeatures{}, "FailureReasons")); d != "" {
		t.Errorf("payload -want +got:\n%s", d)
	}

	// Variables: the value the job sees (the last one) and whether it is public.
	type seen struct {
		Value  string
		Public bool
		Masked bool
		Raw    bool
	}
	last := map[string]seen{}
	for _, v := range got.Variables {
		last[v.Key] = seen{v.Value, v.Public, v.Masked, v.Raw}
	}
	wantVars := map[string]seen{
		"CI_JOB_TOKEN":        {"glcbt-secret", false, true, false},
		"CI_REPOSITORY_URL":   {"http://gitlab-ci-token:glcbt-secret@10.0.0.1:8080/group/project.git", false, false, false},
		"CI_JOB_ID":           {"7", true, false, false},
		"CI_JOB_NAME":         {"test 1/2", true, false, false},
		"CI_JOB_NAME_SLUG":    {"test-1-2", true, false, false},
		"CI_JOB_STAGE":        {"test", true, false, false},
		"CI_JOB_MANUAL":       {"true", true, false, false},
		"CI_JOB_TIMEOUT":      {"5400", true, false, false},
		"CI_PIPELINE_ID":      {"3", true, false, false},
		"CI_NODE_INDEX":       {"1", true, false, false},
		"CI_NODE_TOTAL":       {"2", true, false, false},
		"CI_ENVIRONMENT_NAME": {"review/main", true, false, false},
		"CI_SERVER_URL":       {"http://10.0.0.1:8080", true, false, false},
		"CI_COMMIT_SHA":       {"1234567890abcdef1234567890abcdef12345678", true, false, true},
		"GOFLAGS":             {"-mod=vendor", true, false, false},
		"LITERAL":             {"$HOME", true, false, true},
		"SHARED":              {"from --var", false, false, false},
	}
	for k, w := range wantVars {
		if d := cmp.Diff(w, last[k]); d != "" {
			t.Errorf("variable %s -want +got:\n%s", k, d)
		}
	}
}

func TestJobPayloadDefaultsAndErrors(t *testing.T) {
	tests := []struct {
		name    string
		job     compiler.Job
		env     func(*JobEnv)
		check   func(t *testing.T, got jobspec.Job)
		wantErr string
	}{
		{
			name: "defaults: one hour, no after_script step, no image",
			job:  compiler.Job{Name: "a", Stage: "build", Script: []string{"true"}},
			check: func(t *testing.T, got jobspec.Job) {
				if got.RunnerInfo.Timeout != 3600 || len(got.Steps) != 1 || got.Image.Name != "" || got.Artifacts != nil {
					t.Errorf("timeout %d, steps %d, image %q, artifacts %v", got.RunnerInfo.Timeout, len(got.Steps), got.Image.Name, got.Artifacts)
				}
			},
		},
		{
			name: "a tag pipeline fetches the tag",
			job:  compiler.Job{Name: "a", Stage: "build", Script: []string{"true"}},
			env:  func(e *JobEnv) { e.Git.Branch, e.Git.Tag = "", "v1.0" },
			check: func(t *testing.T, got jobspec.Job) {
				want := jobspec.GitInfo{Ref: "v1.0", RefType: "tag", Refspecs: []string{"+refs/pipelines/3:refs/pipelines/3", "+refs/tags/v1.0:refs/tags/v1.0"}}
				if d := cmp.Diff(want, got.GitInfo, cmpopts.IgnoreFields(jobspec.GitInfo{}, "RepoURL", "Sha", "BeforeSha", "Depth")); d != "" {
					t.Errorf("git_info -want +got:\n%s", d)
				}
			},
		},
		{
			name:    "a bad timeout names the job",
			job:     compiler.Job{Name: "slow", Stage: "build", Script: []string{"true"}, Timeout: "forever"},
			wantErr: "job slow: timeout",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv
			if tc.env != nil {
				tc.env(&env)
			}
			got, err := JobPayload(&tc.job, env, 1, "tok", nil, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, got)
		})
	}
}

// TestJobPayloadRegistry: with a registry, a job gets GitLab's registry variables, the job
// token as the masked password and as a registry credential; without one, none of it.
func TestJobPayloadRegistry(t *testing.T) {
	env := testEnv
	env.Registry = "10.0.0.1:5000"
	env.Predefined = append(env.Predefined, registryVariables(env.Registry, "Group/Project")...)
	got, err := JobPayload(&compiler.Job{Name: "build", Stage: "build", When: "on_success"}, env, 7, "tok-7", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]jobspec.Variable{
		"CI_REGISTRY":          {Key: "CI_REGISTRY", Value: "10.0.0.1:5000", Public: true, Raw: true},
		"CI_REGISTRY_IMAGE":    {Key: "CI_REGISTRY_IMAGE", Value: "10.0.0.1:5000/group/project", Public: true, Raw: true},
		"CI_REGISTRY_USER":     {Key: "CI_REGISTRY_USER", Value: "gitlab-ci-token", Public: true},
		"CI_REGISTRY_PASSWORD": {Key: "CI_REGISTRY_PASSWORD", Value: "tok-7", Masked: true},
	}
	for key, w := range want {
		if _, ok := got.Variables.Lookup(key); !ok {
			t.Errorf("%s missing", key)
		}
		for _, gv := range got.Variables {
			if gv.Key == key && !cmp.Equal(w, gv) {
				t.Errorf("%s = %+v, want %+v", key, gv, w)
			}
		}
	}
	wantCred := []jobspec.Credential{{Type: "registry", URL: "10.0.0.1:5000", Username: "gitlab-ci-token", Password: "tok-7"}}
	if d := cmp.Diff(wantCred, got.Credentials); d != "" {
		t.Errorf("credentials -want +got:\n%s", d)
	}
	none, err := JobPayload(&compiler.Job{Name: "build", Stage: "build", When: "on_success"}, testEnv, 7, "tok-7", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := none.Variables.Lookup("CI_REGISTRY_PASSWORD"); ok || len(none.Credentials) > 0 {
		t.Error("without a registry a job gets registry variables or credentials")
	}
}
