package compiler

import "strings"

// maxExtendsDepth is GitLab's limit on extends chains.
const maxExtendsDepth = 11

// resolveExtends returns root with every top-level entry's extends applied: the bases,
// in order, deep-merged into one another, then the entry itself over them.
func (c *compilation) resolveExtends(root *node) *node {
	r := extender{c: c, root: root, done: map[string]*node{}, active: map[string]bool{}}
	out := *root
	out.pairs = make([]pair, len(root.pairs))
	for i, p := range root.pairs {
		p.val = r.resolve(p.key, p.val, 0)
		out.pairs[i] = p
	}
	return &out
}

type extender struct {
	c      *compilation
	root   *node
	done   map[string]*node
	active map[string]bool
}

func (r *extender) resolve(name string, n *node, depth int) *node {
	if !n.isMap() || !n.has("extends") {
		return n
	}
	if n.get("extends").kind == nullNode {
		r.c.badExtends[name] = true
		return n.without("extends") // null is as if absent
	}
	if d, ok := r.done[name]; ok {
		return d
	}
	job := jobName(name)
	ext := n.get("extends")
	var bases []*node
	switch {
	case ext.isText():
		bases = []*node{ext}
	case ext.isSeq():
		bases = ext.items
	default:
		r.c.errs.add(ext, job, "extends must be a job name or a list of job names, not %s", ext.describe())
		r.c.badExtends[name] = true
		return n.without("extends")
	}
	if depth >= maxExtendsDepth {
		r.c.errs.add(ext, job, "extends: nesting too deep (the limit is %d levels)", maxExtendsDepth)
		r.c.badExtends[name] = true
		return n.without("extends")
	}
	if r.active[name] {
		r.c.errs.add(ext, job, "extends: circular dependency through %s", name)
		r.c.badExtends[name] = true
		return n.without("extends")
	}
	r.active[name] = true
	defer delete(r.active, name)

	var merged *node
	for _, b := range bases {
		if !b.isText() {
			r.c.errs.add(b, job, "extends must name jobs, not %s", b.describe())
			continue
		}
		base := r.root.get(b.value)
		if base == nil {
			r.c.errs.add(b, job, "extends: unknown job or template %q", b.value)
			r.c.badExtends[name] = true
			continue
		}
		if !base.isMap() {
			r.c.errs.add(b, job, "extends: %q is not a hash", b.value)
			r.c.badExtends[name] = true
			continue
		}
		resolved := r.resolve(b.value, base, depth+1)
		if r.c.badExtends[b.value] {
			r.c.badExtends[name] = true
		}
		if merged == nil {
			merged = resolved
		} else {
			merged = deepMerge(merged, resolved)
		}
	}
	own := n.without("extends")
	if merged != nil {
		own = deepMerge(merged, own)
	}
	r.done[name] = own
	return own
}

// jobName is the name errors use for a top-level key: jobs by name, templates too.
func jobName(key string) string {
	if rootKeywords[key] && !strings.HasPrefix(key, ".") {
		return ""
	}
	return key
}
