package compiler

import (
	"errors"
	"io/fs"
	"maps"
	"slices"
	"strings"
)

var defaultStages = []string{"build", "test", "deploy"}

// compilation is the state of one Compile call.
type compilation struct {
	in      Input
	errs    errs
	repo    *source // the repository's files
	mirrors mirrors
	// badExtends names the entries whose extends failed: what they lack is a follow-on
	// of that error, not a second one.
	badExtends map[string]bool
	depth      int // 0 for the pipeline, 1 for a child pipeline, ...
	// parent names the jobs of the parent pipeline, for needs:pipeline:job; nil when
	// this is not a child pipeline.
	parent []string
}

// globals are the top-level settings jobs draw on.
type globals struct {
	stages    []string
	variables []Var
	defaults  *node // the inheritable keys of default: and the old top-level globals
	workflow  []rule
	hasFlow   bool
	badStages bool // stages: is invalid, so a job's stage cannot be checked against it
}

// Compile compiles in.File. The error, when there is one, is an ErrorList holding every
// problem found.
func Compile(in Input) (*Pipeline, error) {
	if in.FS == nil || in.File == "" {
		return nil, errors.New("compile: Input needs FS and File")
	}
	if _, err := fs.Stat(in.FS, in.File); errors.Is(err, fs.ErrNotExist) {
		return nil, ErrorList{{File: in.File, Msg: "the pipeline file does not exist in the repository"}}
	}
	return newCompilation(in, 0).run([]includeFile{{path: in.File}})
}

func newCompilation(in Input, depth int) *compilation {
	return &compilation{
		in: in, repo: &source{files: repoFiles{fsys: in.FS}}, mirrors: newMirrors(in.Mirrors),
		badExtends: map[string]bool{}, depth: depth,
	}
}

// run compiles the configuration the files make, merged as includes are.
func (c *compilation) run(files []includeFile) (*Pipeline, error) {
	inc := &includer{c: c, seen: map[string]bool{}}
	var root *node
	for _, f := range files {
		if f.inputs == nil {
			inc.seen[f.key(c)] = true
		}
		if sub := inc.load(f, 0); sub != nil && root != nil {
			root = deepMerge(root, sub)
		} else if sub != nil {
			root = sub
		}
	}
	if root == nil && len(c.errs.list) == 0 {
		c.errs.list = append(c.errs.list, Error{File: files[0].path, Msg: "the configuration is empty"})
	}
	if len(c.errs.list) > 0 {
		return nil, c.errs.list.sorted()
	}
	root = c.resolveExtends(root)
	root = withoutNulls(c.resolveReferences(root))
	g := c.globals(root)
	filtered := c.workflow(g)
	var defs []*jobDef
	var insts []*instance
	for _, p := range root.pairs {
		if rootKeywords[p.key] || strings.HasPrefix(p.key, ".") {
			continue
		}
		if d := c.decodeJob(p.key, p.line, p.val, g); d != nil {
			defs = append(defs, d)
			insts = append(insts, d.expand()...)
		}
	}
	if len(defs) == 0 {
		c.errs.add(root, "", "the configuration has no jobs (hidden .jobs do not count)")
	}
	ix := newJobIndex(insts, g.stages)
	c.checkNeeds(insts, ix)
	c.checkGenerators(insts, ix)
	if len(c.errs.list) > 0 {
		return nil, c.errs.list.sorted()
	}
	if filtered != "" {
		return &Pipeline{Stages: g.stages, Variables: g.variables, Jobs: []*Job{}, Filtered: filtered}, nil
	}
	p := c.evaluate(g, insts, ix)
	if len(c.errs.list) > 0 {
		return nil, c.errs.list.sorted()
	}
	return p, nil
}

func (c *compilation) globals(root *node) *globals {
	g := &globals{stages: defaultStages, defaults: &node{kind: mapNode, file: root.file}}
	if s := root.get("stages"); s != nil {
		before := len(c.errs.list)
		g.stages = c.stringArray(s, "", "stages")
		g.badStages = len(c.errs.list) > before
	}
	g.stages = edgeStages(g.stages)
	g.variables = c.variables(root.get("variables"), "", true)
	// The old top-level before_script, image, ... work as defaults; default: wins.
	for _, k := range []string{"before_script", "after_script", "image", "services", "cache"} {
		if v := root.get(k); v != nil {
			g.defaults = g.defaults.set(k, v)
		}
	}
	if d := root.get("default"); d != nil {
		if !d.isMap() {
			c.errs.add(d, "", "default must be a hash, not %s", d.describe())
		} else {
			c.checkKeys(d, "", "default", defaultKeywords)
			for _, p := range d.pairs {
				if defaultKeywords[p.key] {
					g.defaults = g.defaults.set(p.key, p.val)
				}
			}
		}
	}
	if w := root.get("workflow"); w != nil {
		if !w.isMap() {
			c.errs.add(w, "", "workflow must be a hash, not %s", w.describe())
		} else {
			c.checkKeys(w, "", "workflow", workflowKeywords)
			if r := w.get("rules"); r != nil {
				g.hasFlow = true
				g.workflow = c.parseRules(r, "", workflowRuleKeywords, set("always", "never"))
			}
		}
	}
	return g
}

// edgeStages puts .pre first and .post last, as GitLab does.
func edgeStages(stages []string) []string {
	out := []string{".pre"}
	for _, s := range stages {
		if s != ".pre" && s != ".post" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return append(out, ".post")
}

// evaluate applies workflow:rules, then each job's rules (or only/except), and returns
// the pipeline of the jobs that stay.
func (c *compilation) evaluate(g *globals, insts []*instance, ix *jobIndex) *Pipeline {
	p := &Pipeline{Stages: g.stages, Variables: g.variables, Jobs: []*Job{}, order: map[string]int{}}
	kept := map[string]*instance{}
	for i, in := range insts {
		p.order[in.job.Name] = i
		if reason := c.include(in, g.hasFlow); reason != "" {
			p.Skipped = append(p.Skipped, SkippedJob{Name: in.job.Name, Stage: in.job.Stage, Line: in.job.Line, Reason: reason})
			continue
		}
		kept[in.job.Name] = in
	}
	names := slices.Sorted(maps.Keys(kept)) // the jobs of this pipeline, for its children
	for _, in := range insts {
		if kept[in.job.Name] == nil {
			continue
		}
		j := in.job
		j.Variables = in.vars
		c.finishNeeds(in, &j, ix, kept)
		vars := append(slices.Clone(c.in.Variables), j.Variables...)
		j.Tags = slices.Clone(j.Tags) // parallel copies share the template's slice
		for i, t := range j.Tags {
			j.Tags[i] = expandExisting(t, vars)
		}
		j.ResourceGroup = expandExisting(j.ResourceGroup, vars)
		j.Environment = expandExisting(j.Environment, vars)
		if j.Trigger != nil {
			c.compileChild(&j, names)
		}
		p.Jobs = append(p.Jobs, &j)
	}
	slices.SortStableFunc(p.Jobs, func(a, b *Job) int {
		return slices.Index(g.stages, a.Stage) - slices.Index(g.stages, b.Stage)
	})
	return p
}

// workflow evaluates workflow:rules. It returns why the pipeline is not created, or ""
// after adding the matched rule's variables to the global ones.
func (c *compilation) workflow(g *globals) string {
	if !g.hasFlow {
		return ""
	}
	r := c.matchRules(g.workflow, lookup(c.in.Variables, g.variables), g.variables)
	if r == nil {
		return "workflow:rules: no rule matched"
	}
	if r.when == "never" {
		return "workflow:" + r.describe() + " says never"
	}
	g.variables = mergeVars(g.variables, r.variables)
	return ""
}

// include decides whether the instance is part of the pipeline; it returns why not, or
// "" and applies the matched rule.
func (c *compilation) include(in *instance, hasWorkflow bool) string {
	d, j := in.def, &in.job
	look := lookup(c.in.Variables, in.vars)
	if d.hasRules {
		r := c.matchRules(d.rules, look, in.vars)
		if r == nil {
			return "rules: no rule matched"
		}
		if r.when == "never" {
			return r.describe() + " says never"
		}
		j.Rules = r.describe()
		if r.when != "" {
			j.When = r.when
		}
		j.StartIn = r.startIn
		if r.allowFailure != nil {
			j.AllowFailure = *r.allowFailure
			j.AllowFailureExitCodes = nil
		}
		if r.interruptible != nil {
			j.Interruptible = *r.interruptible
		}
		in.vars = mergeVars(in.vars, r.variables)
		if r.hasNeeds {
			in.def = &jobDef{tmpl: d.tmpl, node: d.node, needs: r.needs, hasNeeds: true, allowSet: d.allowSet}
		}
		return ""
	}
	only := d.only
	if only == nil && d.except == nil && hasWorkflow {
		return ""
	}
	if only == nil {
		only = defaultOnly
	}
	if !c.satisfied(only, look, in.vars) {
		return "only: does not match this pipeline"
	}
	if d.except != nil && c.anySatisfied(d.except, look, in.vars) {
		return "except: matches this pipeline"
	}
	return ""
}

// finishNeeds turns the needs and dependencies of a kept job into instance names of
// kept jobs; an optional need on a job that is not in the pipeline is dropped, any
// other is an error, as on GitLab.
func (c *compilation) finishNeeds(in *instance, j *Job, ix *jobIndex, kept map[string]*instance) {
	if in.def.hasNeeds {
		j.Needs = []Need{}
		for _, ns := range in.def.needs {
			if ns.pipeline != "" {
				j.Needs = append(j.Needs, Need{Job: ns.job, Artifacts: ns.artifacts, Pipeline: ns.pipeline})
				continue
			}
			names, err := ix.resolve(ns, in.job.Parallel)
			if err != nil {
				continue // reported by checkNeeds
			}
			for _, target := range names {
				if kept[target] == nil {
					if !ns.optional {
						c.errs.add(ns.node, j.Name, "needs %q, which is not in the pipeline (rules, only or except left it out); use needs:optional for a job that is sometimes absent", target)
					}
					continue
				}
				j.Needs = append(j.Needs, Need{Job: target, Artifacts: ns.artifacts, Optional: ns.optional})
			}
		}
	}
	if j.Dependencies != nil {
		deps := []string{}
		for _, dep := range j.Dependencies {
			names, _ := ix.namesOf(dep)
			for _, target := range names {
				if kept[target] != nil {
					deps = append(deps, target)
				}
			}
		}
		j.Dependencies = deps
	}
}
