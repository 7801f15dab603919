package compiler

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// maxChildDepth is how deep GitLab lets child pipelines nest below the parent.
const maxChildDepth = 2

// Trigger is a trigger job's trigger keyword: the job is a bridge that runs a child
// pipeline made of local files of this repository, as GitLab's parent-child pipelines.
type Trigger struct {
	Include []ChildFile
	// Strategy is "mirror" when the bridge takes the child pipeline's status exactly,
	// "depend" when it waits for the child and succeeds or fails with it; empty, the
	// bridge succeeds once the child pipeline is created.
	Strategy string
	Forward  Forward
	// Child is the child pipeline, compiled for this commit with CI_PIPELINE_SOURCE
	// parent_pipeline and the forwarded variables; nil when Generated.
	Child *Pipeline
	// Generated is set for trigger:include:artifact: a job of this pipeline writes the
	// child's configuration, so it is compiled when the bridge runs (CompileGenerated).
	Generated *Generated `json:",omitempty"`

	files []includeFile
	child *compilation // set up for CompileGenerated
}

// Generated is trigger:include:artifact with its job.
type Generated struct {
	Artifact string // the path of the file in the job's artifacts
	Job      string
}

// ChildFile is one entry of trigger:include.
type ChildFile struct {
	Local    string            `json:",omitempty"`
	Inputs   map[string]string `json:",omitempty"` // as text, for display; the child got them typed
	Artifact string            `json:",omitempty"`
	Job      string            `json:",omitempty"`
}

// Forward is trigger:forward: which variables the child pipeline receives as pipeline
// variables.
type Forward struct {
	YAMLVariables     bool // the trigger job's variables (default true)
	PipelineVariables bool // this pipeline's own pipeline variables (default false)
}

// bridgeKeywords are the keys a trigger job may have besides trigger (GitLab's
// Jobs::Bridge); the others need a runner and mean nothing on a bridge.
var bridgeKeywords = set("trigger", "stage", "variables", "when", "start_in", "allow_failure",
	"needs", "rules", "only", "except", "extends", "inherit", "resource_group", "environment", "parallel")

// decodeTrigger reads trigger: and refuses the keywords a bridge cannot have.
func (c *compilation) decodeTrigger(d *jobDef) {
	n, name := d.node, d.tmpl.Name
	for _, p := range n.pairs {
		if !bridgeKeywords[p.key] && jobKeywords[p.key] {
			c.errs.list = append(c.errs.list, Error{File: p.val.file, Line: p.line, Job: name,
				Msg: fmt.Sprintf("a trigger job cannot have %s: (it runs a child pipeline, not a script)", p.key)})
		}
	}
	v := n.get("trigger")
	if v.isText() {
		c.errs.add(v, name, "trigger: %q is a multi-project pipeline (trigger:project), which is not supported locally: it starts a pipeline in another project on a GitLab server", v.value)
		return
	}
	if !v.isMap() {
		c.errs.add(v, name, "trigger must be a hash with include:, not %s", v.describe())
		return
	}
	if v.has("project") {
		c.errs.add(v.get("project"), name, "trigger:project (a multi-project pipeline) is not supported locally: it starts a pipeline in another project on a GitLab server")
		return
	}
	if !c.checkKeys(v, name, "trigger", set("include", "strategy", "forward")) {
		return
	}
	t := &Trigger{Forward: Forward{YAMLVariables: true}}
	if s := v.get("strategy"); s != nil {
		t.Strategy = c.oneOf(s, name, "trigger:strategy", set("depend", "mirror"))
	}
	if f := v.get("forward"); f != nil {
		c.forward(f, name, &t.Forward)
	}
	incl := v.get("include")
	if incl == nil {
		c.errs.add(v, name, "trigger needs include: the child pipeline's file")
		return
	}
	if g, isArtifact := c.generatedChild(incl, name); isArtifact {
		if g != nil {
			t.Generated = g
			t.Include = []ChildFile{{Artifact: g.Artifact, Job: g.Job}}
			d.tmpl.Trigger = t
		}
		return
	}
	t.files = c.childFiles(incl, name)
	for _, f := range t.files {
		cf := ChildFile{Local: f.path}
		for _, p := range f.inputs.pairsOrNil() {
			if cf.Inputs == nil {
				cf.Inputs = map[string]string{}
			}
			cf.Inputs[p.key] = inputText(p.val)
		}
		t.Include = append(t.Include, cf)
	}
	d.tmpl.Trigger = t
}

func (c *compilation) forward(f *node, job string, out *Forward) {
	if !f.isMap() {
		c.errs.add(f, job, "trigger:forward must be a hash, not %s", f.describe())
		return
	}
	c.checkKeys(f, job, "trigger:forward", set("yaml_variables", "pipeline_variables"))
	if y := f.get("yaml_variables"); y != nil {
		out.YAMLVariables = c.boolean(y, job, "trigger:forward:yaml_variables")
	}
	if p := f.get("pipeline_variables"); p != nil {
		out.PipelineVariables = c.boolean(p, job, "trigger:forward:pipeline_variables")
	}
}

// childFiles resolves trigger:include: a path, or a list of paths and {local, inputs}.
func (c *compilation) childFiles(incl *node, job string) []includeFile {
	entries := []*node{incl}
	if incl.isSeq() {
		entries = incl.items
	}
	var out []includeFile
	for _, e := range entries {
		at, inputs := e, (*node)(nil)
		if e.isMap() {
			for _, k := range []string{"remote", "template", "project", "component"} {
				if e.has(k) {
					c.errs.add(e, job, "trigger:include:%s is not supported locally: only local files of this repository make a child pipeline", k)
					return nil
				}
			}
			if !c.checkKeys(e, job, "trigger:include", set("local", "inputs")) {
				return nil
			}
			at, inputs = e.get("local"), e.get("inputs")
		}
		if !at.isText() {
			c.errs.add(e, job, "trigger:include: an entry must be a path or a hash with local:, not %s", e.describe())
			return nil
		}
		if p, ok := c.childPath(at, job); ok {
			out = append(out, includeFile{path: p, inputs: inputs, at: e})
		}
	}
	return out
}

func (c *compilation) childPath(n *node, job string) (string, bool) {
	p := expandExisting(n.value, c.in.Variables)
	if why := relativePath(p, n.value, "trigger:include:local"); why != "" {
		c.errs.add(n, job, "trigger:include: %s", why)
		return "", false
	}
	p = strings.TrimPrefix(p, "/")
	switch {
	case strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://"):
		c.errs.add(n, job, "trigger:include %q is remote, which is not supported locally", n.value)
	case path.Ext(p) != ".yml" && path.Ext(p) != ".yaml":
		c.errs.add(n, job, "trigger:include: %q does not have a YAML extension (.yml or .yaml)", n.value)
	case !c.repo.exists(p):
		c.errs.add(n, job, "trigger:include: the child pipeline's file %q does not exist", n.value)
	default:
		return p, true
	}
	return "", false
}

// compileChild compiles the child pipeline of trigger job j, as GitLab creates it when the
// bridge runs: same commit, CI_PIPELINE_SOURCE parent_pipeline, the forwarded variables
// as pipeline variables. parent names the jobs of this pipeline. Its problems are the
// trigger job's, each naming the child file. A generated child is only made ready to
// compile: its file exists once its job has run.
func (c *compilation) compileChild(j *Job, parent []string) {
	t := j.Trigger
	if len(t.files) == 0 && t.Generated == nil {
		return // reported when decoded
	}
	if c.depth >= maxChildDepth {
		c.errs.list = append(c.errs.list, Error{File: j.File, Line: j.Line, Job: j.Name,
			Msg: fmt.Sprintf("trigger: child pipelines nest at most %d levels deep", maxChildDepth)})
		return
	}
	in := c.in
	in.Variables = mergeVars(in.Variables, []Var{{Key: "CI_PIPELINE_SOURCE", Value: "parent_pipeline"}})
	if t.Forward.YAMLVariables {
		in.Variables = mergeVars(in.Variables, j.Variables)
	}
	child := newCompilation(in, c.depth+1)
	child.parent = parent
	if t.Generated != nil {
		if !slices.Contains(parent, t.Generated.Job) {
			c.errs.list = append(c.errs.list, Error{File: j.File, Line: j.Line, Job: j.Name,
				Msg: fmt.Sprintf("trigger:include:artifact: job %q is not in the pipeline (rules, only or except left it out), so it cannot generate the child pipeline", t.Generated.Job)})
			return
		}
		t.child = child
		return
	}
	child.in.File = t.files[0].path
	p, err := child.run(t.files)
	if err == nil {
		t.Child = p
		return
	}
	for _, e := range err.(ErrorList) {
		c.errs.list = append(c.errs.list, Error{File: e.File, Line: e.Line, Job: j.Name,
			Msg: "child pipeline " + e.File + ": " + e.jobMsg()})
	}
}
