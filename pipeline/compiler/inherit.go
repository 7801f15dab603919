package compiler

import (
	"slices"

	"github.com/agnivade/levenshtein"
)

// withDefaults returns the job with default: (and the old top-level globals) filled in
// for the keys it does not set, unless inherit:default says otherwise.
func (c *compilation) withDefaults(name string, n *node, g *globals) *node {
	inherit := c.inheritFilter(n, name, "default")
	for _, p := range g.defaults.pairs {
		if n.has(p.key) || !inherit(p.key) {
			continue
		}
		n = n.set(p.key, p.val)
	}
	return n
}

// inheritFilter reads inherit:<key>: true (all), false (none) or a list of names.
func (c *compilation) inheritFilter(n *node, job, key string) func(string) bool {
	all := func(string) bool { return true }
	inh := n.get("inherit")
	if inh == nil {
		return all
	}
	if !inh.isMap() {
		c.errs.add(inh, job, "inherit must be a hash with default: and variables:, not %s", inh.describe())
		return all
	}
	c.checkKeys(inh, job, "inherit", inheritKeywords)
	v := inh.get(key)
	switch {
	case v == nil:
		return all
	case v.kind == scalarNode && v.tag == "!!bool":
		b := v.value == "true"
		return func(string) bool { return b }
	case v.isSeq():
		names := c.stringArray(v, job, "inherit:"+key)
		if key == "default" {
			for _, s := range names {
				if !defaultKeywords[s] {
					c.errs.add(v, job, "inherit:default: %q is not a default keyword", s)
				}
			}
		}
		return func(k string) bool { return slices.Contains(names, k) }
	}
	c.errs.add(v, job, "inherit:%s must be true, false or a list, not %s", key, v.describe())
	return all
}

func (c *compilation) inheritedVariables(job string, n *node, global []Var) []Var {
	inherit := c.inheritFilter(n, job, "variables")
	var out []Var
	for _, v := range global {
		if inherit(v.Key) {
			v.Description = "" // descriptions are for the run-pipeline form, not for jobs
			out = append(out, v)
		}
	}
	return out
}

// hasFailed reports whether n holds an unresolvable !reference (already reported).
func hasFailed(n *node) bool {
	if n.tag == tagFailed {
		return true
	}
	return slices.ContainsFunc(n.items, hasFailed)
}

// nearKeyword returns the top-level keyword name is a likely typo of, or "".
func nearKeyword(name string) string {
	for _, kw := range sortedKeys(rootKeywords) {
		if levenshtein.ComputeDistance(name, kw) <= 2 {
			return kw
		}
	}
	return ""
}
