package compiler

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/agnivade/levenshtein"
)

// maxJobNameLength is GitLab's limit on job names.
const maxJobNameLength = 255

// jobDef is a job as written, decoded and checked, before parallel expansion and rules.
type jobDef struct {
	tmpl       Job // the fields that need no evaluation
	node       *node
	rules      []rule
	hasRules   bool
	only       *policy
	except     *policy
	needs      []needSpec
	hasNeeds   bool
	allowSet   bool // allow_failure given at job level
	parallel   *parallelSpec
	globalVars []Var // the global variables this job inherits
}

// decodeJob turns the top-level entry name into a jobDef; nil when it cannot be used.
func (c *compilation) decodeJob(name string, keyLine int, n *node, g *globals) *jobDef {
	if !n.isMap() {
		c.errs.list = append(c.errs.list, Error{File: n.file, Line: keyLine, Job: name,
			Msg: fmt.Sprintf("a job must be a hash of keywords, not %s (or is %q a misspelt keyword?)", n.describe(), name)})
		return nil
	}
	if len(name) > maxJobNameLength {
		c.errs.add(n, name, "the name is too long (maximum is %d characters)", maxJobNameLength)
	}
	if !n.has("trigger") { // default: is for jobs that run a script, as on GitLab
		n = c.withDefaults(name, n, g)
	}
	misspeltScript := false // then the job's missing script: is that one error, not two
	for _, p := range n.pairs {
		if why, ok := serverJobKeywords[p.key]; ok {
			c.errs.list = append(c.errs.list, Error{File: p.val.file, Line: p.line, Job: name,
				Msg: fmt.Sprintf("%s: is not supported locally: %s", p.key, why)})
		} else if !jobKeywords[p.key] {
			msg := fmt.Sprintf("unknown keyword %q", p.key)
			if !n.has("script") && levenshtein.ComputeDistance(p.key, "script") <= 2 {
				misspeltScript = true
				msg += " (a misspelt \"script\"?)"
			}
			c.errs.list = append(c.errs.list, Error{File: p.val.file, Line: p.line, Job: name, Msg: msg})
		}
	}
	d := &jobDef{node: n, tmpl: Job{Name: name, File: n.file, Line: keyLine, Stage: "test", When: "on_success"}}
	j := &d.tmpl
	if n.has("trigger") {
		c.decodeTrigger(d)
	} else if s := n.get("script"); s != nil {
		before := len(c.errs.list)
		j.Script = c.commands(s, name, "script")
		if len(j.Script) == 0 && len(c.errs.list) == before && !hasFailed(s) {
			c.errs.add(s, name, "script can't be empty")
		}
	} else if !n.has("run") && !c.badExtends[name] && !misspeltScript {
		msg := "the job has no script: (every job needs script:)"
		if kw := nearKeyword(name); kw != "" {
			msg = fmt.Sprintf("the job has no script:; or is %q a misspelt %q?", name, kw)
		}
		c.errs.add(n, name, "%s", msg)
	}
	if s := n.get("before_script"); s != nil {
		j.BeforeScript = c.commands(s, name, "before_script")
	}
	if s := n.get("after_script"); s != nil {
		j.AfterScript = c.commands(s, name, "after_script")
	}
	if s := n.get("stage"); s != nil {
		if st, ok := c.text(s, name, "stage"); ok {
			j.Stage = st
			if !slices.Contains(g.stages, st) && !g.badStages {
				c.errs.add(s, name, "stage %q is not declared; stages are: %s", st, strings.Join(g.stages, ", "))
			}
		}
	}
	c.decodeFields(d, g)
	c.decodeConditions(d)
	d.globalVars = c.inheritedVariables(name, n, g.variables)
	return d
}

// decodeFields decodes the keywords that need no evaluation.
func (c *compilation) decodeFields(d *jobDef, g *globals) {
	n, j, name := d.node, &d.tmpl, d.tmpl.Name
	for _, p := range n.pairs {
		v := p.val
		switch p.key {
		case "image":
			j.Image = c.image(v, name, "image", imageKeywords)
		case "services":
			j.Services = c.services(v, name)
		case "variables":
			j.Variables = c.variables(v, name, false)
		case "when":
			j.When = c.oneOf(v, name, "when", jobWhens)
			if j.When == "" {
				j.When = "on_success"
			}
		case "allow_failure":
			d.allowSet = true
			j.AllowFailure, j.AllowFailureExitCodes = c.allowFailure(v, name)
		case "needs":
			d.hasNeeds = true
			d.needs = c.parseNeeds(v, name)
		case "dependencies":
			j.Dependencies = c.stringArray(v, name, "dependencies")
		case "artifacts":
			j.Artifacts = c.artifacts(v, name)
		case "cache":
			j.Cache = c.caches(v, name)
		case "retry":
			j.Retry = c.retry(v, name)
		case "timeout":
			j.Timeout = c.timeout(v, name)
		case "tags":
			j.Tags = c.stringArray(v, name, "tags")
		case "interruptible":
			j.Interruptible = c.boolean(v, name, "interruptible")
		case "resource_group":
			j.ResourceGroup, _ = c.text(v, name, "resource_group")
		case "environment":
			j.Environment = c.environment(v, name)
		case "coverage":
			j.Coverage = c.coverage(v, name)
		case "parallel":
			d.parallel = c.parallel(v, name)
		}
	}
	if j.When == "delayed" {
		if s := n.get("start_in"); s != nil {
			j.StartIn = c.startIn(s, name, "delayed")
		} else if !n.has("rules") {
			c.errs.add(n.get("when"), name, "when: delayed needs start_in")
		}
	} else if s := n.get("start_in"); s != nil {
		c.errs.add(s, name, "start_in is only valid with when: delayed")
	}
	if !d.allowSet {
		j.AllowFailure = j.When == "manual"
	}
	if j.Needs == nil && d.hasNeeds {
		j.Needs = []Need{}
	}
}

// decodeConditions reads rules, only and except.
func (c *compilation) decodeConditions(d *jobDef) {
	n, name := d.node, d.tmpl.Name
	if r := n.get("rules"); r != nil && r.kind != nullNode {
		d.hasRules = true
		d.rules = c.parseRules(r, name, ruleKeywords, ruleWhens)
		for _, k := range []string{"only", "except", "start_in"} {
			if n.has(k) {
				c.errs.list = append(c.errs.list, Error{File: n.file, Line: n.keyLine(k), Job: name,
					Msg: k + ": may not be used with rules:"})
			}
		}
		return
	}
	if o := n.get("only"); o != nil {
		d.only = c.parsePolicy(o, name, "only")
	}
	if e := n.get("except"); e != nil {
		d.except = c.parsePolicy(e, name, "except")
	}
}

func (c *compilation) allowFailure(n *node, job string) (bool, []int) {
	if n.isMap() {
		c.checkKeys(n, job, "allow_failure", set("exit_codes"))
		codes := c.ints(n.get("exit_codes"), job, "allow_failure:exit_codes")
		return false, codes
	}
	return c.boolean(n, job, "allow_failure"), nil
}

// ints reads an integer or an array of integers.
func (c *compilation) ints(n *node, job, key string) []int {
	if n == nil {
		c.errs.add(n, job, "%s is missing", key)
		return nil
	}
	if n.kind == scalarNode {
		i, _ := c.integer(n, job, key)
		return []int{i}
	}
	if !n.isSeq() {
		c.errs.add(n, job, "%s must be an integer or an array of integers, not %s", key, n.describe())
		return nil
	}
	var out []int
	for _, it := range n.items {
		if i, ok := c.integer(it, job, key); ok {
			out = append(out, i)
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
