package pipeline

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/pipeline/compiler"
)

// defaultTimeout is GitLab's default project timeout, for jobs without timeout:.
const defaultTimeout = time.Hour

// defaultDepth is GitLab's default GIT_DEPTH for new projects.
const defaultDepth = 20

// JobEnv is what turning a compiled job into a job payload needs beyond the job itself:
// the run's identity and where the coordinator and the repository are served.
type JobEnv struct {
	Git        compiler.GitState // the commit served (Sha is the snapshot's)
	PipelineID int64
	ServerURL  string // the coordinator's base URL, as pods reach it
	RepoURL    string // the repository's git URL, without credentials
	// Predefined are the pipeline's predefined variables (compiler.PredefinedVariables).
	Predefined []compiler.Var
	// User are --var values: pipeline variables, the highest precedence, never public.
	User []compiler.Var
	// Registry is the container registry jobs push to, or empty (see Options.Registry).
	Registry string
	// CacheKey computes the key of cache:key:files from the listed files; nil leaves
	// such caches keyed by their prefix alone.
	CacheKey func(files []string) string
}

// JobPayload builds the payload a runner receives for one attempt of j: id and token are
// the attempt's own, deps the earlier jobs whose artifacts it downloads (the coordinator
// fills in their tokens and archives), and dotenv the variables of their dotenv reports.
func JobPayload(j *compiler.Job, env JobEnv, id int64, token string, deps []jobspec.Dependency, dotenv []compiler.Var) (jobspec.Job, error) {
	timeout := defaultTimeout
	if j.Timeout != "" {
		d, err := compiler.ParseDuration(j.Timeout)
		if err != nil {
			return jobspec.Job{}, fmt.Errorf("job %s: timeout: %w", j.Name, err)
		}
		timeout = d
	}
	secs := max(int(timeout/time.Second), 1)
	script := append(append([]string{}, j.BeforeScript...), j.Script...)
	steps := []jobspec.Step{{Name: jobspec.StepScript, Script: script, Timeout: secs, When: jobspec.WhenOnSuccess}}
	if len(j.AfterScript) > 0 {
		steps = append(steps, jobspec.Step{Name: jobspec.StepAfterScript, Script: j.AfterScript, Timeout: secs, When: jobspec.WhenAlways})
	}
	out := jobspec.Job{
		ID:    id,
		Token: token,
		JobInfo: jobspec.JobInfo{
			Name: j.Name, Stage: j.Stage, ProjectID: 1, ProjectName: env.Git.ProjectName,
			ProjectFullPath: env.Git.ProjectPath, PipelineID: env.PipelineID, UserID: 1,
		},
		GitInfo:      gitInfo(env),
		RunnerInfo:   jobspec.RunnerInfo{Timeout: secs},
		Variables:    jobVariables(j, env, id, token, secs, dotenv),
		Steps:        steps,
		Artifacts:    artifacts(j.Artifacts),
		Cache:        caches(j.Cache, env.CacheKey),
		Dependencies: deps,
		Credentials:  registryCredentials(env.Registry, token),
		Features: jobspec.JobFeatures{
			TraceSections:     true,
			TokenMaskPrefixes: []string{"glcbt-", "glrt-", "glpat-"},
			FailureReasons:    coordinator.KnownFailureReasons(),
		},
	}
	if j.Image != nil {
		out.Image = image(*j.Image)
	}
	for _, s := range j.Services {
		out.Services = append(out.Services, image(s))
	}
	return out, nil
}

func gitInfo(env JobEnv) jobspec.GitInfo {
	g := jobspec.GitInfo{
		RepoURL: env.RepoURL, Sha: env.Git.Sha, BeforeSha: env.Git.BeforeSha, Depth: defaultDepth,
		Refspecs: []string{fmt.Sprintf("+%[1]s:%[1]s", PipelineRef(env.PipelineID))},
	}
	if g.BeforeSha == "" {
		g.BeforeSha = strings.Repeat("0", 40)
	}
	switch {
	case env.Git.Tag != "":
		g.Ref, g.RefType = env.Git.Tag, "tag"
		g.Refspecs = append(g.Refspecs, fmt.Sprintf("+refs/tags/%[1]s:refs/tags/%[1]s", env.Git.Tag))
	case env.Git.Branch != "":
		g.Ref, g.RefType = env.Git.Branch, "branch"
		g.Refspecs = append(g.Refspecs, fmt.Sprintf("+refs/heads/%[1]s:refs/remotes/origin/%[1]s", env.Git.Branch))
	default: // detached HEAD: only the pipeline ref names the commit
		g.Ref, g.RefType = env.Git.Sha, "branch"
	}
	return g
}

// PipelineRef is the ref GitLab keeps for every pipeline, and the git server serves.
func PipelineRef(pipelineID int64) string {
	return "refs/pipelines/" + strconv.FormatInt(pipelineID, 10)
}

// jobVariables are the job's variables in GitLab's order of precedence (a later one wins):
// predefined, the job's own (global ones included), the dotenv reports of the jobs it
// takes artifacts from, then pipeline (--var) variables.
func jobVariables(j *compiler.Job, env JobEnv, id int64, token string, timeout int, dotenv []compiler.Var) jobspec.Variables {
	pub := func(k, v string) jobspec.Variable { return jobspec.Variable{Key: k, Value: v, Public: true} }
	jobURL := fmt.Sprintf("%s/%s/-/jobs/%d", env.ServerURL, env.Git.ProjectPath, id)
	vars := jobspec.Variables{
		{Key: "CI_JOB_TOKEN", Value: token, Masked: true},
		{Key: "CI_REPOSITORY_URL", Value: withToken(env.RepoURL, token)},
		pub("CI_JOB_ID", strconv.FormatInt(id, 10)),
		pub("CI_JOB_NAME", j.Name),
		pub("CI_JOB_NAME_SLUG", compiler.Slug(j.Name)),
		pub("CI_JOB_STAGE", j.Stage),
		pub("CI_JOB_URL", jobURL),
		pub("CI_JOB_TIMEOUT", strconv.Itoa(timeout)),
		pub("CI_PIPELINE_ID", strconv.FormatInt(env.PipelineID, 10)),
		pub("CI_PIPELINE_IID", strconv.FormatInt(env.PipelineID, 10)),
		pub("CI_PIPELINE_URL", fmt.Sprintf("%s/%s/-/pipelines/%d", env.ServerURL, env.Git.ProjectPath, env.PipelineID)),
		pub("CI_PROJECT_ID", "1"),
		pub("CI_PROJECT_URL", env.ServerURL+"/"+env.Git.ProjectPath),
		pub("CI_SERVER_URL", env.ServerURL),
		pub("CI_API_V4_URL", env.ServerURL+"/api/v4"),
		pub("CI_NODE_TOTAL", "1"),
	}
	if env.Registry != "" {
		// As GitLab: the job token is the registry password, masked like the token.
		vars = append(vars, pub("CI_REGISTRY_USER", registryUser),
			jobspec.Variable{Key: "CI_REGISTRY_PASSWORD", Value: token, Masked: true})
	}
	if p := j.Parallel; p != nil {
		vars = append(vars, pub("CI_NODE_INDEX", strconv.Itoa(p.Index)), pub("CI_NODE_TOTAL", strconv.Itoa(p.Total)))
	}
	if j.When == "manual" {
		vars = append(vars, pub("CI_JOB_MANUAL", "true"))
	}
	if j.Environment != "" {
		vars = append(vars, pub("CI_ENVIRONMENT_NAME", j.Environment), pub("CI_ENVIRONMENT_SLUG", compiler.Slug(j.Environment)))
	}
	for _, v := range env.Predefined {
		vars = append(vars, variable(v, true))
	}
	for _, v := range j.Variables {
		vars = append(vars, variable(v, true))
	}
	for _, v := range dotenv {
		vars = append(vars, variable(v, false))
	}
	for _, v := range env.User {
		vars = append(vars, variable(v, false))
	}
	return vars
}

func variable(v compiler.Var, public bool) jobspec.Variable {
	return jobspec.Variable{Key: v.Key, Value: v.Value, Public: public, Raw: !v.Expand}
}

// withToken is the URL GitLab gives CI_REPOSITORY_URL: credentials included.
func withToken(repoURL, token string) string {
	scheme, rest, ok := strings.Cut(repoURL, "://")
	if !ok {
		return repoURL
	}
	return scheme + "://gitlab-ci-token:" + token + "@" + rest
}

func image(i compiler.Image) jobspec.Image {
	out := jobspec.Image{Name: i.Name, Alias: i.Alias, Command: i.Command, Entrypoint: i.Entrypoint, PullPolicy: i.PullPolicy}
	for _, v := range i.Variables {
		out.Variables = append(out.Variables, variable(v, true))
	}
	return out
}

// reportFormats are GitLab's archive formats and file names of report artifacts
// (Ci::JobArtifact); unlisted report types are uploaded raw under their type's name.
var reportFormats = map[string][2]string{
	"junit":           {"gzip", "junit.xml"},
	"dotenv":          {"gzip", ".env"},
	"coverage_report": {"gzip", "cobertura-coverage.xml"},
	"cobertura":       {"gzip", "cobertura-coverage.xml"},
	"metrics":         {"gzip", "metrics.txt"},
	"terraform":       {"raw", "tfplan.json"},
}

// artifacts are GitLab's runner presentation of artifacts: the archive, then one entry per
// report, which GitLab always uploads (when: always).
func artifacts(a *compiler.Artifacts) []jobspec.Artifact {
	if a == nil {
		return nil
	}
	var out []jobspec.Artifact
	if len(a.Paths) > 0 || a.Untracked {
		when := a.When
		if when == "" {
			when = "on_success"
		}
		out = append(out, jobspec.Artifact{
			Name: a.Name, Untracked: a.Untracked, Paths: a.Paths, Exclude: a.Exclude,
			When: jobspec.When(when), ArtifactType: "archive", ArtifactFormat: "zip", ExpireIn: a.ExpireIn,
		})
	}
	for _, typ := range slices.Sorted(maps.Keys(a.Reports)) {
		f, ok := reportFormats[typ]
		if !ok {
			f = [2]string{"raw", typ}
		}
		out = append(out, jobspec.Artifact{
			Name: f[1], Paths: a.Reports[typ], When: jobspec.WhenAlways,
			ArtifactType: typ, ArtifactFormat: f[0], ExpireIn: a.ExpireIn,
		})
	}
	return out
}

func caches(cs []compiler.Cache, keyOf func([]string) string) []jobspec.Cache {
	var out []jobspec.Cache
	for _, c := range cs {
		key := c.Key
		if len(c.KeyFiles) > 0 {
			files := "default"
			if keyOf != nil {
				files = keyOf(c.KeyFiles)
			}
			key = strings.TrimPrefix(c.KeyPrefix+"-"+files, "-")
		}
		if key == "" {
			key = "default"
		}
		out = append(out, jobspec.Cache{
			Key: key, Untracked: c.Untracked, Policy: jobspec.CachePolicy(c.Policy), Paths: c.Paths,
			When: jobspec.When(c.When), FallbackKeys: c.FallbackKeys,
		})
	}
	return out
}

// registryUser is the user GitLab gives jobs for its registry.
const registryUser = "gitlab-ci-token"

// registryVariables are the registry's predefined variables, known when the pipeline is
// created (rules may use them): CI_REGISTRY and the project's image path.
func registryVariables(registry, projectPath string) []compiler.Var {
	if registry == "" {
		return nil
	}
	return []compiler.Var{
		{Key: "CI_REGISTRY", Value: registry},
		{Key: "CI_REGISTRY_IMAGE", Value: registry + "/" + strings.ToLower(projectPath)},
	}
}

// registryCredentials is the credential GitLab sends for its registry: the job token.
func registryCredentials(registry, token string) []jobspec.Credential {
	if registry == "" {
		return nil
	}
	return []jobspec.Credential{{Type: "registry", URL: registry, Username: registryUser, Password: token}}
}
