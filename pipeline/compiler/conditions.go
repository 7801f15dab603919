package compiler

import (
	"fmt"
	"strings"

	"github.com/kuberunner/kuberunner/pipeline/compiler/rules"
)

// rule is one parsed entry of a rules: list.
type rule struct {
	index         int
	ifExpr        *rules.Expr
	changes       []string
	hasChanges    bool
	exists        []string
	hasExists     bool
	when          string
	startIn       string
	allowFailure  *bool
	variables     []Var
	needs         []needSpec
	hasNeeds      bool
	interruptible *bool
}

// describe is what Job.Rules records: which rule matched and on what.
func (r *rule) describe() string {
	var parts []string
	if r.ifExpr != nil {
		parts = append(parts, "if "+r.ifExpr.String())
	}
	if r.hasChanges {
		parts = append(parts, "changes "+strings.Join(r.changes, ", "))
	}
	if r.hasExists {
		parts = append(parts, "exists "+strings.Join(r.exists, ", "))
	}
	if len(parts) == 0 {
		parts = append(parts, "no conditions")
	}
	return fmt.Sprintf("rules[%d]: %s", r.index, strings.Join(parts, " && "))
}

// parseRules checks a rules: list and compiles its expressions; every rule is checked,
// not only the ones a run would reach, as GitLab does.
func (c *compilation) parseRules(n *node, job string, keys, whens map[string]bool) []rule {
	if !n.isSeq() {
		c.errs.add(n, job, "rules must be an array of hashes, not %s", n.describe())
		return nil
	}
	if len(n.items) == 0 {
		c.errs.add(n, job, "rules config can't be blank")
		return nil
	}
	out := []rule{}
	for i, rn := range flatten(n) {
		if !rn.isMap() {
			c.errs.add(rn, job, "rules[%d] must be a hash, not %s", i, rn.describe())
			continue
		}
		c.checkKeys(rn, job, fmt.Sprintf("rules[%d]", i), keys)
		r := rule{index: i}
		if v := rn.get("if"); v != nil {
			if s, ok := c.text(v, job, "rules:if"); ok {
				e, err := rules.Parse(s)
				if err != nil {
					c.errs.add(v, job, "rules[%d]: invalid expression %q: %v", i, s, err)
				}
				r.ifExpr = e
			}
		}
		if v := rn.get("changes"); v != nil {
			r.hasChanges = true
			r.changes = c.pathsClause(v, job, "rules:changes", "compare_to")
		}
		if v := rn.get("exists"); v != nil {
			r.hasExists = true
			r.exists = c.pathsClause(v, job, "rules:exists", "project")
		}
		if v := rn.get("when"); v != nil {
			r.when = c.oneOf(v, job, "rules:when", whens)
		}
		if v := rn.get("start_in"); v != nil {
			r.startIn = c.startIn(v, job, r.when)
		} else if r.when == "delayed" {
			c.errs.add(rn, job, "rules[%d]: when: delayed needs start_in", i)
		}
		if v := rn.get("allow_failure"); v != nil {
			b := c.boolean(v, job, "rules:allow_failure")
			r.allowFailure = &b
		}
		if v := rn.get("interruptible"); v != nil {
			b := c.boolean(v, job, "rules:interruptible")
			r.interruptible = &b
		}
		if v := rn.get("variables"); v != nil {
			r.variables = c.variables(v, job, false)
		}
		if v := rn.get("needs"); v != nil {
			r.hasNeeds = true
			r.needs = c.parseNeeds(v, job)
		}
		out = append(out, r)
	}
	return out
}

// pathsClause reads changes: or exists:, an array of globs or a hash with paths:. The
// other key (compare_to, project) needs a GitLab server.
func (c *compilation) pathsClause(n *node, job, key, serverKey string) []string {
	if n.isMap() {
		if n.has(serverKey) {
			c.errs.add(n, job, "%s:%s is not supported locally", key, serverKey)
		}
		c.checkKeys(n, job, key, set("paths", serverKey, "ref"))
		if p := n.get("paths"); p != nil {
			return c.stringArray(p, job, key+":paths")
		}
		c.errs.add(n, job, "%s needs paths:", key)
		return nil
	}
	return c.stringArray(n, job, key)
}

func (c *compilation) oneOf(n *node, job, key string, allowed map[string]bool) string {
	s, ok := c.text(n, job, key)
	if !ok {
		return ""
	}
	if !allowed[s] {
		c.errs.add(n, job, "%s %q is not one of: %s", key, s, strings.Join(sortedKeys(allowed), ", "))
		return ""
	}
	return s
}

// matchRules returns the first rule whose clauses all hold, or nil.
func (c *compilation) matchRules(rs []rule, look rules.Lookup, vars []Var) *rule {
	for i := range rs {
		r := &rs[i]
		if r.ifExpr != nil && !r.ifExpr.Eval(look) {
			continue
		}
		if r.hasChanges && !c.changed(r.changes, vars) {
			continue
		}
		if r.hasExists && !c.anyExists(r.exists, vars) {
			continue
		}
		return r
	}
	return nil
}

// changed reports whether a changed path matches one of the globs; with no list of
// changed paths it is true, as on GitLab when it cannot tell.
func (c *compilation) changed(globs []string, vars []Var) bool {
	if c.in.Changed == nil {
		return true
	}
	for _, g := range globs {
		g = expandExisting(g, vars)
		for _, p := range c.in.Changed {
			if fnmatch(g, p) {
				return true
			}
		}
	}
	return false
}

func (c *compilation) anyExists(globs []string, vars []Var) bool {
	for _, g := range globs {
		g = strings.TrimPrefix(expandExisting(g, vars), "/")
		for _, f := range c.repo.files.list() {
			if f == g || fnmatch(g, f) {
				return true
			}
		}
	}
	return false
}
