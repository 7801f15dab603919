package compiler

import (
	"cmp"
	"encoding/json"
	"slices"
)

// The JSON form of a pipeline is what GitLab's CI Lint API answers for its jobs
// (snake_case, `name`, `stage`, `when`, `allow_failure`, `tag_list`, needs as
// needs_attributes {name, artifacts, optional}), extended with the keywords a local run
// resolves, spelt as in .gitlab-ci.yml. Jobs that rules, only or except left out are
// listed too, with `when: never` and the reason, as GitLab's pipeline editor shows them.

// pipelineJSON is the document `pipeline show` prints.
type pipelineJSON struct {
	Stages    []string `json:"stages"`
	Variables []Var    `json:"variables,omitempty"`
	Jobs      []any    `json:"jobs"`
	Filtered  string   `json:"filtered,omitempty"`
}

type jobJSON struct {
	Name                 string         `json:"name"`
	Stage                string         `json:"stage"`
	File                 string         `json:"file,omitempty"`
	Line                 int            `json:"line,omitempty"`
	Image                *imageJSON     `json:"image,omitempty"`
	Services             []imageJSON    `json:"services,omitempty"`
	BeforeScript         []string       `json:"before_script,omitempty"`
	Script               []string       `json:"script,omitempty"`
	AfterScript          []string       `json:"after_script,omitempty"`
	Variables            []Var          `json:"variables,omitempty"`
	When                 string         `json:"when"`
	StartIn              string         `json:"start_in,omitempty"`
	AllowFailure         bool           `json:"allow_failure"`
	AllowFailureCriteria *exitCodesJSON `json:"allow_failure_criteria,omitempty"`
	Needs                *[]needJSON    `json:"needs,omitempty"` // [] for `needs: []`
	Dependencies         *[]string      `json:"dependencies,omitempty"`
	Artifacts            *artifactsJSON `json:"artifacts,omitempty"`
	Cache                []cacheJSON    `json:"cache,omitempty"`
	Retry                *retryJSON     `json:"retry,omitempty"`
	Timeout              string         `json:"timeout,omitempty"`
	TagList              []string       `json:"tag_list"`
	Interruptible        bool           `json:"interruptible,omitempty"`
	ResourceGroup        string         `json:"resource_group,omitempty"`
	Environment          string         `json:"environment,omitempty"`
	Coverage             string         `json:"coverage,omitempty"`
	Parallel             *parallelJSON  `json:"parallel,omitempty"`
	Rules                string         `json:"rules,omitempty"`
	Trigger              *triggerJSON   `json:"trigger,omitempty"`
	// ChildPipeline is what the trigger runs, compiled: a local run resolves it up front.
	ChildPipeline *Pipeline `json:"child_pipeline,omitempty"`
}

// triggerJSON is trigger: as written in .gitlab-ci.yml, include in its long form.
type triggerJSON struct {
	Include  []childFileJSON `json:"include"`
	Strategy string          `json:"strategy,omitempty"`
	Forward  forwardJSON     `json:"forward"`
}

type childFileJSON struct {
	Local  string            `json:"local"`
	Inputs map[string]string `json:"inputs,omitempty"`
}

type forwardJSON struct {
	YAMLVariables     bool `json:"yaml_variables"`
	PipelineVariables bool `json:"pipeline_variables"`
}

type skippedJSON struct {
	Name   string `json:"name"`
	Stage  string `json:"stage"`
	When   string `json:"when"` // always "never"
	Reason string `json:"reason"`
}

type imageJSON struct {
	Name       string   `json:"name"`
	Alias      string   `json:"alias,omitempty"`
	Entrypoint []string `json:"entrypoint,omitempty"`
	Command    []string `json:"command,omitempty"`
	PullPolicy []string `json:"pull_policy,omitempty"`
	Variables  []Var    `json:"variables,omitempty"`
	Docker     *Docker  `json:"docker,omitempty"`
}

type exitCodesJSON struct {
	ExitCodes []int `json:"exit_codes"`
}

type needJSON struct {
	Name      string `json:"name"`
	Artifacts bool   `json:"artifacts"`
	Optional  bool   `json:"optional"`
}

type artifactsJSON struct {
	Name      string              `json:"name,omitempty"`
	Paths     []string            `json:"paths,omitempty"`
	Exclude   []string            `json:"exclude,omitempty"`
	Untracked bool                `json:"untracked,omitempty"`
	When      string              `json:"when"`
	ExpireIn  string              `json:"expire_in,omitempty"`
	ExposeAs  string              `json:"expose_as,omitempty"`
	Reports   map[string][]string `json:"reports,omitempty"`
}

type cacheKeyJSON struct {
	Files  []string `json:"files"`
	Prefix string   `json:"prefix,omitempty"`
}

type cacheJSON struct {
	Key          any      `json:"key"` // a string, or {files, prefix}
	Paths        []string `json:"paths,omitempty"`
	Untracked    bool     `json:"untracked,omitempty"`
	Policy       string   `json:"policy"`
	When         string   `json:"when"`
	FallbackKeys []string `json:"fallback_keys,omitempty"`
}

type retryJSON struct {
	Max       int      `json:"max"`
	When      []string `json:"when,omitempty"`
	ExitCodes []int    `json:"exit_codes,omitempty"`
}

type parallelJSON struct {
	Index  int               `json:"index"`
	Total  int               `json:"total"`
	Matrix map[string]string `json:"matrix,omitempty"`
}

// MarshalJSON writes the pipeline in GitLab's field names; see pipelineJSON.
func (p Pipeline) MarshalJSON() ([]byte, error) {
	out := pipelineJSON{Stages: p.Stages, Variables: p.Variables, Jobs: []any{}, Filtered: p.Filtered}
	type entry struct {
		stage, order int
		v            any
	}
	var all []entry
	for _, j := range p.Jobs {
		all = append(all, entry{slices.Index(p.Stages, j.Stage), p.order[j.Name], j.toJSON()})
	}
	for _, s := range p.Skipped {
		all = append(all, entry{slices.Index(p.Stages, s.Stage), p.order[s.Name],
			skippedJSON{Name: s.Name, Stage: s.Stage, When: "never", Reason: s.Reason}})
	}
	// Stage order, then file order (kept jobs first when the order is not known).
	slices.SortStableFunc(all, func(a, b entry) int { return cmp.Or(cmp.Compare(a.stage, b.stage), cmp.Compare(a.order, b.order)) })
	for _, e := range all {
		out.Jobs = append(out.Jobs, e.v)
	}
	return json.Marshal(out)
}

// MarshalJSON writes a job in GitLab's field names; see pipelineJSON.
func (j Job) MarshalJSON() ([]byte, error) { return json.Marshal(j.toJSON()) }

func (j *Job) toJSON() jobJSON {
	out := jobJSON{
		Name: j.Name, Stage: j.Stage, File: j.File, Line: j.Line,
		BeforeScript: j.BeforeScript, Script: j.Script, AfterScript: j.AfterScript, Variables: j.Variables,
		When: j.When, StartIn: j.StartIn, AllowFailure: j.AllowFailure,
		Timeout: j.Timeout, TagList: j.Tags, Interruptible: j.Interruptible,
		ResourceGroup: j.ResourceGroup, Environment: j.Environment, Coverage: j.Coverage, Rules: j.Rules,
	}
	if out.TagList == nil {
		out.TagList = []string{}
	}
	if j.Image != nil {
		img := imageToJSON(*j.Image)
		out.Image = &img
	}
	for _, s := range j.Services {
		out.Services = append(out.Services, imageToJSON(s))
	}
	if j.AllowFailureExitCodes != nil {
		out.AllowFailureCriteria = &exitCodesJSON{ExitCodes: j.AllowFailureExitCodes}
	}
	if j.Needs != nil {
		needs := make([]needJSON, len(j.Needs))
		for i, n := range j.Needs {
			needs[i] = needJSON{Name: n.Job, Artifacts: n.Artifacts, Optional: n.Optional}
		}
		out.Needs = &needs
	}
	if j.Dependencies != nil {
		out.Dependencies = &j.Dependencies
	}
	if a := j.Artifacts; a != nil {
		out.Artifacts = &artifactsJSON{Name: a.Name, Paths: a.Paths, Exclude: a.Exclude, Untracked: a.Untracked,
			When: a.When, ExpireIn: a.ExpireIn, ExposeAs: a.ExposeAs, Reports: a.Reports}
	}
	for _, c := range j.Cache {
		var key any = c.Key
		if c.KeyFiles != nil {
			key = cacheKeyJSON{Files: c.KeyFiles, Prefix: c.KeyPrefix}
		}
		out.Cache = append(out.Cache, cacheJSON{Key: key, Paths: c.Paths, Untracked: c.Untracked,
			Policy: c.Policy, When: c.When, FallbackKeys: c.FallbackKeys})
	}
	if r := j.Retry; r.Max != 0 || r.When != nil || r.ExitCodes != nil {
		out.Retry = &retryJSON{Max: r.Max, When: r.When, ExitCodes: r.ExitCodes}
	}
	if p := j.Parallel; p != nil {
		out.Parallel = &parallelJSON{Index: p.Index, Total: p.Total, Matrix: p.Matrix}
	}
	if t := j.Trigger; t != nil {
		tj := &triggerJSON{Strategy: t.Strategy, Forward: forwardJSON(t.Forward)}
		for _, f := range t.Include {
			tj.Include = append(tj.Include, childFileJSON(f))
		}
		out.Trigger, out.ChildPipeline = tj, t.Child
	}
	return out
}

func imageToJSON(i Image) imageJSON { return imageJSON(i) }

// varJSON is a variable as GitLab's API writes one: raw for `expand: false`.
type varJSON struct {
	Key         string `json:"key"`
	Value       string `json:"value"`
	Raw         bool   `json:"raw,omitempty"`
	Description string `json:"description,omitempty"`
}

// MarshalJSON writes a variable in GitLab's API field names.
func (v Var) MarshalJSON() ([]byte, error) {
	return json.Marshal(varJSON{Key: v.Key, Value: v.Value, Raw: !v.Expand, Description: v.Description})
}
