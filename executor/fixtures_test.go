package executor

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/jobspec"
)

// Secret values of fullJob: none may appear in a pod spec.
var fullJobSecrets = []string{
	"job-token-s3cr3t", "masked-value-1234", "hidden-value-5678", "-----BEGIN KEY-----filevar",
	"registry-password-9", "dep-token-abc", "service-secret-777",
}

func minimalJob() *jobspec.Job {
	return &jobspec.Job{
		ID:    42,
		Token: "job-token-s3cr3t",
		JobInfo: jobspec.JobInfo{
			Name: "test", Stage: "test", ProjectID: 7, ProjectName: "app",
			ProjectFullPath: "group/app", PipelineID: 99,
		},
		GitInfo:    jobspec.GitInfo{RepoURL: "https://gitlab-ci-token:job-token-s3cr3t@gitlab.example.com/group/app.git", Ref: "main", Sha: "0123456789abcdef0123456789abcdef01234567", RefType: "branch"},
		RunnerInfo: jobspec.RunnerInfo{Timeout: 600},
		Variables: jobspec.Variables{
			{Key: "CI_JOB_TOKEN", Value: "job-token-s3cr3t", Masked: true},
			{Key: "CI_JOB_URL", Value: "https://gitlab.example.com/group/app/-/jobs/42", Public: true},
			{Key: "CI_PROJECT_PATH", Value: "group/app", Public: true},
		},
		Steps: []jobspec.Step{{Name: jobspec.StepScript, Script: []string{"make test"}, Timeout: 600, When: jobspec.WhenOnSuccess}},
		Image: jobspec.Image{Name: "golang:1.26"},
	}
}

func fullJob() *jobspec.Job {
	j := minimalJob()
	j.Variables = append(j.Variables,
		jobspec.Variable{Key: "MASKED", Value: "masked-value-1234", Public: true, Masked: true},
		jobspec.Variable{Key: "HIDDEN", Value: "hidden-value-5678"},
		jobspec.Variable{Key: "KEY_FILE", Value: "-----BEGIN KEY-----filevar", Public: true, File: true},
		jobspec.Variable{Key: "GREETING", Value: "hello $(not-expanded)", Public: true},
		jobspec.Variable{Key: "KUBERNETES_CPU_REQUEST", Value: "750m", Public: true},
		jobspec.Variable{Key: "KUBERNETES_MEMORY_LIMIT", Value: "3Gi", Public: true},
		jobspec.Variable{Key: "KUBERNETES_SERVICE_MEMORY_REQUEST", Value: "256Mi", Public: true},
		jobspec.Variable{Key: "KUBERNETES_HELPER_CPU_LIMIT", Value: "1", Public: true},
		jobspec.Variable{Key: "PG_VERSION", Value: "16", Public: true},
	)
	j.Image = jobspec.Image{Name: "registry.example.com/tools/build:$PG_VERSION", Entrypoint: []string{"/bin/sh", "-c"}, PullPolicy: []string{"if-not-present"}}
	j.Services = []jobspec.Image{
		{Name: "postgres:$PG_VERSION", Alias: "db, postgres", Variables: jobspec.Variables{{Key: "POSTGRES_PASSWORD", Value: "pw", Public: true}}, Ports: []jobspec.Port{{Number: 5432, Name: "pg"}}},
		{Name: "registry.example.com/tools/redis:7@sha256:abcd", Command: []string{"redis-server", "--save", ""}, Entrypoint: []string{"/entry"}},
	}
	j.Variables = append(j.Variables, jobspec.Variable{Key: "SERVICE_SECRET", Value: "service-secret-777"})
	j.Credentials = []jobspec.Credential{{Type: "registry", URL: "registry.example.com", Username: "gitlab-ci-token", Password: "registry-password-9"}}
	j.Dependencies = []jobspec.Dependency{{ID: 41, Token: "dep-token-abc", Name: "build", ArtifactsFile: &jobspec.ArtifactsFile{Filename: "artifacts.zip", Size: 10}}}
	return j
}

const fullConfigYAML = `
namespace: ci
helper_image: registry.example.com/kuberunner:1.0
image: alpine:3
service_account: ci-jobs
node_selector: {kubernetes.io/os: linux}
tolerations:
  - {key: dedicated, operator: Equal, value: ci, effect: NoSchedule}
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms:
        - matchExpressions: [{key: pool, operator: In, values: [ci]}]
pod_labels: {team: platform, project: "$CI_PROJECT_PATH"}
pod_annotations: {example.com/owner: "$CI_PROJECT_PATH"}
image_pull_secrets: [shared-registry]
pull_policy: always
allowed_pull_policies: [always, if-not-present]
build:
  cpu_request: 500m
  memory_limit: 2Gi
  cpu_request_max_allowed: "1"
  memory_limit_max_allowed: 4Gi
service:
  memory_request: 128Mi
  memory_request_max_allowed: 512Mi
helper:
  cpu_limit: 500m
  cpu_limit_max_allowed: "2"
security_context:
  run_as_non_root: true
  run_as_user: 1000
  fs_group: 1000
deadline_margin: 5m
cache_claim: ci-cache
pod_spec_patches:
  - name: dns
    patch: |
      dnsPolicy: None
      dnsConfig: {nameservers: [10.0.0.10]}
  - name: priority
    type: merge
    patch: '{"priorityClassName": "ci-low"}'
`

func testRunner() RunnerInfo {
	return RunnerInfo{Name: "k8s runner #1", ID: 3, GitLabURL: "https://gitlab.example.com", Version: "1.2.3", Revision: "abc123"}
}

func mustPodConfig(t *testing.T, configYAML string) PodConfig {
	t.Helper()
	var k config.Kubernetes
	dec := yaml.NewDecoder(strings.NewReader(configYAML))
	dec.KnownFields(true)
	if err := dec.Decode(&k); err != nil && configYAML != "" {
		t.Fatalf("decode config: %v", err)
	}
	pc, err := NewPodConfig(k, testRunner())
	if err != nil {
		t.Fatalf("NewPodConfig: %v", err)
	}
	return pc
}

// builderJob asks for BuildKit and pushes to the project's registry with CI_REGISTRY_*
// variables, under the hardened profile it asks for.
func builderJob() *jobspec.Job {
	j := minimalJob()
	j.Variables = append(j.Variables,
		jobspec.Variable{Key: "KUBERUNNER_BUILDKIT", Value: "true", Public: true},
		jobspec.Variable{Key: "KUBERUNNER_SECURITY_PROFILE", Value: "hardened", Public: true},
		jobspec.Variable{Key: "CI_REGISTRY", Value: "registry.example.com", Public: true},
		jobspec.Variable{Key: "CI_REGISTRY_USER", Value: "gitlab-ci-token", Public: true},
		jobspec.Variable{Key: "CI_REGISTRY_PASSWORD", Value: "registry-password-9", Masked: true},
	)
	return j
}

const builderConfigYAML = `
buildkit:
  image: registry.example.com/buildkit:v0.33.1-rootless
insecure_registries: [registry.local:5000]
`

// deployJob deploys to the review/* environment.
func deployJob() *jobspec.Job {
	j := minimalJob()
	j.Variables = append(j.Variables,
		jobspec.Variable{Key: "CI_ENVIRONMENT_NAME", Value: "review/feature-1", Public: true})
	return j
}

const deployConfigYAML = `
deploy:
  - {environment: production, namespace: prod, cluster_role: kuberunner-deployer}
  - {environment: "review/*", namespace: review}
`
