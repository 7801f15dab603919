package compiler

import "strings"

// maxReferenceDepth is GitLab's limit on !reference tags that lead to other ones.
const maxReferenceDepth = 10

// resolveReferences replaces every !reference [key, ...] in root with the value it
// names, looked up in root (after extends, as GitLab does).
func (c *compilation) resolveReferences(root *node) *node {
	out := *root
	out.pairs = make([]pair, len(root.pairs))
	for i, p := range root.pairs {
		p.val = c.resolveRefs(root, p.val, jobName(p.key), 0)
		out.pairs[i] = p
	}
	return &out
}

func (c *compilation) resolveRefs(root, n *node, job string, depth int) *node {
	switch {
	case n == nil:
		return nil
	case n.kind == seqNode && n.tag == tagReference:
		return c.followReference(root, n, job, depth)
	case n.kind == seqNode:
		out := *n
		out.items = make([]*node, len(n.items))
		for i, it := range n.items {
			out.items[i] = c.resolveRefs(root, it, job, depth)
		}
		return &out
	case n.kind == mapNode:
		out := *n
		out.pairs = make([]pair, len(n.pairs))
		for i, p := range n.pairs {
			p.val = c.resolveRefs(root, p.val, job, depth)
			out.pairs[i] = p
		}
		return &out
	}
	return n
}

func (c *compilation) followReference(root, ref *node, job string, depth int) *node {
	// A reference that cannot be followed is reported once and leaves an empty list,
	// so that it does not also make the script empty or mistyped.
	null := &node{kind: seqNode, tag: tagFailed, file: ref.file, line: ref.line}
	keys := make([]string, 0, len(ref.items))
	for _, it := range ref.items {
		if !it.isText() {
			c.errs.add(ref, job, "!reference must list keys (strings), not %s", it.describe())
			return null
		}
		keys = append(keys, it.value)
	}
	if len(keys) == 0 {
		c.errs.add(ref, job, "!reference needs at least one key")
		return null
	}
	if depth >= maxReferenceDepth {
		c.errs.add(ref, job, "!reference: too many nested references (the limit is %d)", maxReferenceDepth)
		return null
	}
	target := root
	for _, k := range keys {
		target = target.get(k)
		if target == nil {
			c.errs.add(ref, job, "!reference [%s] could not be found", strings.Join(keys, ", "))
			return null
		}
	}
	return c.resolveRefs(root, target, job, depth+1)
}
