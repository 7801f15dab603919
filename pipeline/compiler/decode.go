package compiler

import (
	"strconv"
)

// maxScriptNesting is how deep GitLab lets script arrays nest (!reference makes nesting).
const maxScriptNesting = 10

// text returns a string (or number) value, reporting anything else.
func (c *compilation) text(n *node, job, key string) (string, bool) {
	if n.isText() {
		return n.value, true
	}
	c.errs.add(n, job, "%s must be a string, not %s", key, n.describe())
	return "", false
}

// boolean returns a boolean value, reporting anything else.
func (c *compilation) boolean(n *node, job, key string) bool {
	if n != nil && n.kind == scalarNode && n.tag == "!!bool" {
		return n.value == "true"
	}
	c.errs.add(n, job, "%s must be true or false, not %s", key, n.describe())
	return false
}

// integer returns an integer value, reporting anything else.
func (c *compilation) integer(n *node, job, key string) (int, bool) {
	if n != nil && n.kind == scalarNode && n.tag == "!!int" {
		if i, err := strconv.Atoi(n.value); err == nil {
			return i, true
		}
	}
	c.errs.add(n, job, "%s must be an integer, not %s", key, n.describe())
	return 0, false
}

// strings returns a string or an array of strings as a list.
func (c *compilation) strings(n *node, job, key string) []string {
	if n.isText() {
		return []string{n.value}
	}
	return c.stringArray(n, job, key)
}

// stringArray returns an array of strings, reporting anything else.
func (c *compilation) stringArray(n *node, job, key string) []string {
	if !n.isSeq() {
		c.errs.add(n, job, "%s must be an array of strings, not %s", key, n.describe())
		return nil
	}
	out := make([]string, 0, len(n.items))
	for _, it := range n.items {
		if !it.isText() {
			c.errs.add(it, job, "%s must be an array of strings, but holds %s", key, it.describe())
			continue
		}
		out = append(out, it.value)
	}
	return out
}

// commands returns a script: a string, or an array of strings and nested arrays (what
// !reference leaves behind), flattened.
func (c *compilation) commands(n *node, job, key string) []string {
	if n.isString() {
		return []string{n.value}
	}
	if !n.isSeq() {
		c.errs.add(n, job, "%s must be a string or an array of strings, not %s", key, n.describe())
		return nil
	}
	out := []string{}
	var walk func(items []*node, depth int) bool
	walk = func(items []*node, depth int) bool {
		for _, it := range items {
			switch {
			case it.isString():
				out = append(out, it.value)
			case it.isSeq() && depth < maxScriptNesting:
				if !walk(it.items, depth+1) {
					return false
				}
			case it.isSeq():
				c.errs.add(it, job, "%s nests arrays more than %d levels deep", key, maxScriptNesting)
				return false
			default:
				c.errs.add(it, job, "%s must hold only strings, but holds %s (quote it)", key, it.describe())
				return false
			}
		}
		return true
	}
	walk(n.items, 1)
	return out
}

// checkKeys reports every key of the map n that allowed does not list.
func (c *compilation) checkKeys(n *node, job, where string, allowed map[string]bool) bool {
	ok := true
	for _, p := range n.pairs {
		if !allowed[p.key] {
			c.errs.list = append(c.errs.list, Error{File: n.file, Line: p.line, Job: job,
				Msg: "unknown keyword " + strconv.Quote(p.key) + " in " + where})
			ok = false
		}
	}
	return ok
}

// flatten returns the items of a sequence with nested sequences (from !reference)
// spliced in, as GitLab flattens rules lists.
func flatten(n *node) []*node {
	var out []*node
	for _, it := range n.items {
		if it.isSeq() {
			out = append(out, flatten(it)...)
			continue
		}
		out = append(out, it)
	}
	return out
}
