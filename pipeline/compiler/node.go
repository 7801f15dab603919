package compiler

import (
	"strconv"
	"strings"
)

type nodeKind int

const (
	nullNode nodeKind = iota
	scalarNode
	mapNode
	seqNode
)

// node is a YAML value after anchors, aliases and merge keys were applied, remembering
// where it came from. Compilation never mutates a node: merging builds new ones.
type node struct {
	kind  nodeKind
	tag   string // "!!str", "!!int", "!!float", "!!bool" for scalars; "!reference" on a sequence
	value string // a scalar's text, normalised for numbers and booleans
	pairs []pair // mapNode, in file order
	items []*node
	file  string
	line  int
}

type pair struct {
	key  string
	line int // where the key is written
	val  *node
}

func (n *node) isMap() bool { return n != nil && n.kind == mapNode }
func (n *node) isSeq() bool { return n != nil && n.kind == seqNode && n.tag != tagReference }

// isString reports a scalar that YAML typed as a string.
func (n *node) isString() bool { return n != nil && n.kind == scalarNode && n.tag == "!!str" }

// isText reports a string or a number: what GitLab turns into a string with to_s.
func (n *node) isText() bool {
	return n != nil && n.kind == scalarNode && (n.tag == "!!str" || n.tag == "!!int" || n.tag == "!!float")
}

func (n *node) get(key string) *node {
	if !n.isMap() {
		return nil
	}
	for _, p := range n.pairs {
		if p.key == key {
			return p.val
		}
	}
	return nil
}

func (n *node) has(key string) bool {
	if !n.isMap() {
		return false
	}
	for _, p := range n.pairs {
		if p.key == key {
			return true
		}
	}
	return false
}

// keyLine returns the line of key in n, or n's own line.
func (n *node) keyLine(key string) int {
	for _, p := range n.pairs {
		if p.key == key {
			return p.line
		}
	}
	return n.line
}

// set returns a copy of the map n with key set to val (appended when new).
func (n *node) set(key string, val *node) *node {
	out := *n
	out.pairs = make([]pair, 0, len(n.pairs)+1)
	found := false
	for _, p := range n.pairs {
		if p.key == key {
			p.val = val
			found = true
		}
		out.pairs = append(out.pairs, p)
	}
	if !found {
		out.pairs = append(out.pairs, pair{key: key, line: val.line, val: val})
	}
	return &out
}

// without returns a copy of the map n without key.
func (n *node) without(key string) *node {
	out := *n
	out.pairs = nil
	for _, p := range n.pairs {
		if p.key != key {
			out.pairs = append(out.pairs, p)
		}
	}
	return &out
}

// deepMerge is GitLab's Hash#deep_merge as used for includes and extends: maps merge
// key by key, recursively; anything else in over replaces what is in base.
func deepMerge(base, over *node) *node {
	if !base.isMap() || !over.isMap() {
		return over
	}
	out := *base
	out.file, out.line = over.file, over.line // the overriding map is where it is defined
	out.pairs = append([]pair(nil), base.pairs...)
	for _, op := range over.pairs {
		found := false
		for i, bp := range out.pairs {
			if bp.key == op.key {
				out.pairs[i].val = deepMerge(bp.val, op.val)
				out.pairs[i].line = op.line
				found = true
				break
			}
		}
		if !found {
			out.pairs = append(out.pairs, op)
		}
	}
	return &out
}

// describe names a node's type the way error messages need it.
func (n *node) describe() string {
	if n == nil {
		return "nothing"
	}
	switch n.kind {
	case nullNode:
		return "null"
	case mapNode:
		return "a hash"
	case seqNode:
		if n.tag == tagReference {
			return "a !reference"
		}
		return "an array"
	}
	switch n.tag {
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	}
	return "a string"
}

// rubyFloat formats f as Ruby's Float#to_s does for ordinary values ("1.0", "2.5").
func rubyFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") { // n: NaN, Inf
		s += ".0"
	}
	return s
}

// withoutNulls returns the top-level map root with every key set to null removed from
// the values of its keywords and jobs, recursively: GitLab treats `key:` with no value
// as if the key were absent (its config factory makes an unspecified entry of nil), so
// defaults still apply. A variable with no value is the empty string instead. A null
// job stays, for the error that says a job must be a hash.
func withoutNulls(root *node) *node {
	out := *root
	out.pairs = make([]pair, 0, len(root.pairs))
	for _, p := range root.pairs {
		if p.val.kind == nullNode && rootKeywords[p.key] {
			continue
		}
		p.val = pruneNulls(p.val, p.key == "variables")
		out.pairs = append(out.pairs, p)
	}
	return &out
}

func pruneNulls(n *node, variables bool) *node {
	switch n.kind {
	case mapNode:
		out := *n
		out.pairs = make([]pair, 0, len(n.pairs))
		for _, p := range n.pairs {
			if p.val.kind == nullNode {
				if !variables {
					continue
				}
				p.val = &node{kind: scalarNode, tag: "!!str", file: p.val.file, line: p.val.line}
			}
			p.val = pruneNulls(p.val, p.key == "variables" && !variables)
			out.pairs = append(out.pairs, p)
		}
		return &out
	case seqNode:
		out := *n
		out.items = make([]*node, len(n.items))
		for i, it := range n.items {
			out.items[i] = pruneNulls(it, false)
		}
		return &out
	}
	return n
}
