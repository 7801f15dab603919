package jobspec

// Job is the payload of a 201 answer to POST /jobs/request. Field names follow GitLab's
// wire format; unknown fields are ignored so a newer GitLab does not break an older runner.
type Job struct {
	ID            int64        `json:"id"`
	Token         string       `json:"token"`
	AllowGitFetch bool         `json:"allow_git_fetch"`
	JobInfo       JobInfo      `json:"job_info"`
	GitInfo       GitInfo      `json:"git_info"`
	RunnerInfo    RunnerInfo   `json:"runner_info"`
	Variables     Variables    `json:"variables"`
	Steps         []Step       `json:"steps"`
	Image         Image        `json:"image"`
	Services      []Image      `json:"services"`
	Artifacts     []Artifact   `json:"artifacts"`
	Cache         []Cache      `json:"cache"`
	Credentials   []Credential `json:"credentials"`
	Dependencies  []Dependency `json:"dependencies"`
	Features      JobFeatures  `json:"features"`
}

type JobInfo struct {
	Name               string  `json:"name"`
	Stage              string  `json:"stage"`
	ProjectID          int64   `json:"project_id"`
	ProjectName        string  `json:"project_name"`
	ProjectFullPath    string  `json:"project_full_path"`
	PipelineID         int64   `json:"pipeline_id"`
	UserID             int64   `json:"user_id"`
	TimeInQueueSeconds float64 `json:"time_in_queue_seconds"`
}

type GitInfo struct {
	RepoURL   string   `json:"repo_url"`
	Ref       string   `json:"ref"`
	Sha       string   `json:"sha"`
	BeforeSha string   `json:"before_sha"`
	RefType   string   `json:"ref_type"` // branch | tag
	Refspecs  []string `json:"refspecs"`
	Depth     int      `json:"depth"`
	Protected *bool    `json:"protected,omitempty"`
}

type RunnerInfo struct {
	// Timeout is the job's timeout in seconds, already capped by the runner's maximum.
	Timeout int `json:"timeout"`
}

// StepName names a step of the job: script, after_script, or release.
type StepName string

const (
	StepScript      StepName = "script"
	StepAfterScript StepName = "after_script"
	StepRelease     StepName = "release"
)

// When says when a step or an artifact applies, relative to the job's outcome.
type When string

const (
	WhenOnSuccess When = "on_success"
	WhenOnFailure When = "on_failure"
	WhenAlways    When = "always"
)

type Step struct {
	Name         StepName `json:"name"`
	Script       []string `json:"script"`
	Timeout      int      `json:"timeout"` // seconds
	When         When     `json:"when"`
	AllowFailure bool     `json:"allow_failure"`
}

type Port struct {
	Number   int    `json:"number"`
	Protocol string `json:"protocol,omitempty"`
	Name     string `json:"name,omitempty"`
}

// Image is the job's image or one of its services.
type Image struct {
	Name       string    `json:"name"`
	Alias      string    `json:"alias,omitempty"`
	Command    []string  `json:"command,omitempty"`
	Entrypoint []string  `json:"entrypoint,omitempty"`
	Ports      []Port    `json:"ports,omitempty"`
	Variables  Variables `json:"variables,omitempty"`
	// PullPolicy lists the policies the job would accept, in order (PullPolicies).
	PullPolicy []string `json:"pull_policy,omitempty"`
}

// PullPolicies are the image pull policy names a job or the runner's config may use, in
// GitLab's spelling; the compiler, the config and the pod builder all check against this list.
var PullPolicies = []string{"always", "if-not-present", "never"}

type Artifact struct {
	Name           string   `json:"name"`
	Untracked      bool     `json:"untracked"`
	Paths          []string `json:"paths"`
	Exclude        []string `json:"exclude"`
	When           When     `json:"when"`
	ArtifactType   string   `json:"artifact_type"`   // archive, junit, dotenv, ...
	ArtifactFormat string   `json:"artifact_format"` // zip | gzip | raw
	ExpireIn       string   `json:"expire_in"`
}

type CachePolicy string

const (
	CachePullPush CachePolicy = "pull-push"
	CachePull     CachePolicy = "pull"
	CachePush     CachePolicy = "push"
)

type Cache struct {
	Key          string      `json:"key"`
	Untracked    bool        `json:"untracked"`
	Policy       CachePolicy `json:"policy"`
	Paths        []string    `json:"paths"`
	When         When        `json:"when"`
	FallbackKeys []string    `json:"fallback_keys"`
}

type Credential struct {
	Type     string `json:"type"` // registry
	URL      string `json:"url"`
	Username string `json:"username"`
	Password string `json:"password"`
}

type ArtifactsFile struct {
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
}

// Dependency is an earlier job whose artifacts this job downloads with the dependency's own token.
type Dependency struct {
	ID            int64          `json:"id"`
	Token         string         `json:"token"`
	Name          string         `json:"name"`
	ArtifactsFile *ArtifactsFile `json:"artifacts_file,omitempty"`
}

type JobFeatures struct {
	TraceSections     bool            `json:"trace_sections"`
	TokenMaskPrefixes []string        `json:"token_mask_prefixes"`
	FailureReasons    []FailureReason `json:"failure_reasons"`
}

// Masks are the values that must never reach a log: the masked variables' values, the
// job token and the credentials' passwords. The trace and the agent in the job pod both
// mask them, with Features.TokenMaskPrefixes.
func (j *Job) Masks() []string {
	masks := append(j.Variables.MaskedValues(), j.Token)
	for _, c := range j.Credentials {
		if c.Password != "" {
			masks = append(masks, c.Password)
		}
	}
	return masks
}

// StepByName returns the step with that name, or nil.
func (j *Job) StepByName(name StepName) *Step {
	for i := range j.Steps {
		if j.Steps[i].Name == name {
			return &j.Steps[i]
		}
	}
	return nil
}
