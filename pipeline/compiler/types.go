package compiler

import "io/fs"

// Input is what Compile needs: the repository, the configuration file in it, and the
// variables and changed paths rules are evaluated against.
type Input struct {
	FS        fs.FS  // the repository root (os.DirFS(dir) in production, fstest.MapFS in tests)
	File      string // ".gitlab-ci.yml"
	Variables []Var  // predefined + user --var values, used for rules/only/except and expansion
	// Changed lists the paths the commit changed, for rules:changes and only:changes.
	// nil means unknown: changes clauses are then true, as GitLab treats them when it
	// cannot tell.
	Changed []string
	// Mirrors are local copies of what includes read from a GitLab server, by key: a
	// project path ("group/project") for include:project and the project's components,
	// a URL prefix ("https://host/ci/") for include:remote URLs under it (the rest of the
	// URL is the path in the mirror), "templates" for include:template. A mirror is read
	// as it is, whatever ref an include names. The CLI's flag is --include-mirror.
	Mirrors map[string]fs.FS
}

// Pipeline is the compiled configuration.
type Pipeline struct {
	Stages    []string // with .pre first and .post last
	Variables []Var    // global variables, then workflow:rules variables
	Jobs      []*Job   // stage order, then file order
	Skipped   []SkippedJob
	// Filtered is set when workflow:rules kept the whole pipeline from being created; Jobs
	// is then empty.
	Filtered string `json:",omitempty"`

	// order is each job's place in the file (kept and skipped ones), for the JSON
	// listing both.
	order map[string]int
}

// SkippedJob is a job that rules, only or except left out of this pipeline.
type SkippedJob struct {
	Name   string
	Stage  string
	Line   int // where the job is defined
	Reason string
}

// Var is a CI/CD variable defined in the file (or given by the caller).
type Var struct {
	Key   string
	Value string
	// Expand is false for `expand: false` variables, whose value is taken literally.
	Expand      bool
	Description string `json:",omitempty"`
}

// Job is one job of the pipeline, with defaults, extends and rules applied.
type Job struct {
	Name  string
	Stage string
	File  string // the file that defines the job
	Line  int    // where the job is defined

	Image        *Image   `json:",omitempty"`
	Services     []Image  `json:",omitempty"`
	BeforeScript []string `json:",omitempty"`
	Script       []string
	AfterScript  []string `json:",omitempty"`
	// Variables are the job's own variables (after the inherited global ones were chosen,
	// matrix values and rules:variables), in the order they apply.
	Variables []Var `json:",omitempty"`

	When    string // on_success|on_failure|always|manual|delayed (run delayed jobs as manual)
	StartIn string `json:",omitempty"`

	AllowFailure          bool
	AllowFailureExitCodes []int `json:",omitempty"`

	// Needs is nil when the job has no needs keyword (it waits for earlier stages), and
	// empty but not nil for `needs: []` (it starts at once).
	Needs []Need
	// Dependencies is nil when the job takes the artifacts of every job it waits for.
	Dependencies []string

	Artifacts *Artifacts `json:",omitempty"`
	Cache     []Cache    `json:",omitempty"`
	Retry     Retry
	Timeout   string   `json:",omitempty"`
	Tags      []string `json:",omitempty"`

	Interruptible bool
	// ResourceGroup serialises jobs: at most one job of a group runs at a time.
	ResourceGroup string `json:",omitempty"`
	Environment   string `json:",omitempty"` // recorded, not deployed to
	// Coverage is the regular expression (RE2, without slashes) whose first match in the
	// trace is the job's coverage.
	Coverage string        `json:",omitempty"`
	Parallel *ParallelInfo `json:",omitempty"`

	// Trigger is set on a trigger job (a bridge): it runs a child pipeline, not a script.
	Trigger *Trigger `json:",omitempty"`

	// Rules says which rule matched, e.g. `rules[1]: if $CI_COMMIT_BRANCH == "main"`.
	Rules string `json:",omitempty"`
}

// Image is the job's image or one of its services.
type Image struct {
	Name       string
	Alias      string   `json:",omitempty"`
	Entrypoint []string `json:",omitempty"`
	Command    []string `json:",omitempty"`
	PullPolicy []string `json:",omitempty"`
	Variables  []Var    `json:",omitempty"`
	// Docker holds image:docker: what the container runs as and the platform its image
	// is for.
	Docker *Docker `json:",omitempty"`
}

// Docker is image:docker (or services:docker).
type Docker struct {
	Platform string `json:"platform,omitempty"` // e.g. linux/arm64: the image variant and the node's architecture
	User     string `json:"user,omitempty"`     // user name or UID[:GID] the container runs as
}

// Need is one entry of a job's needs.
type Need struct {
	Job       string
	Artifacts bool // download the job's artifacts (default true)
	Optional  bool
	// Pipeline is needs:pipeline as written (e.g. $PARENT_PIPELINE_ID): Job is then a
	// job of the parent pipeline, whose artifacts this job of a child pipeline takes. It
	// does not order the job within its own pipeline.
	Pipeline string `json:",omitempty"`
}

// Artifacts is a job's artifacts keyword.
type Artifacts struct {
	Name      string   `json:",omitempty"`
	Paths     []string `json:",omitempty"`
	Exclude   []string `json:",omitempty"`
	Untracked bool     `json:",omitempty"`
	When      string   // on_success|on_failure|always
	ExpireIn  string   `json:",omitempty"`
	ExposeAs  string   `json:",omitempty"`
	// Reports maps a report type (junit, dotenv, ...) to its paths.
	Reports map[string][]string `json:",omitempty"`
}

// Cache is one entry of a job's cache keyword.
type Cache struct {
	// Key is the cache key; when KeyFiles is set the key is computed at run time from
	// those files (prefixed by KeyPrefix) and Key is empty.
	Key          string   `json:",omitempty"`
	KeyFiles     []string `json:",omitempty"`
	KeyPrefix    string   `json:",omitempty"`
	Paths        []string `json:",omitempty"`
	Untracked    bool     `json:",omitempty"`
	Policy       string   // pull-push|pull|push (or a $VARIABLE to expand at run time)
	When         string   // on_success|on_failure|always
	FallbackKeys []string `json:",omitempty"`
}

// Retry is a job's retry keyword.
type Retry struct {
	Max       int
	When      []string `json:",omitempty"`
	ExitCodes []int    `json:",omitempty"`
}

// ParallelInfo says which instance of a parallel or matrix job this is.
type ParallelInfo struct {
	Index, Total int
	Matrix       map[string]string `json:",omitempty"`
}
