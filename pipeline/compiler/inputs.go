package compiler

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Inputs: a file may start with a header document (`spec: inputs: ...`, then `---`)
// declaring the inputs it takes; include:inputs (or include:component's inputs) give
// their values, and $[[ inputs.name ]] in the file's strings is replaced by them, as
// GitLab's Ci::Config::Interpolation does.

var (
	interpolation = regexp.MustCompile(`\$\[\[\s*(.*?)\s*\]\]`)
	inputAccess   = regexp.MustCompile(`^inputs\.([A-Za-z0-9_-]+)$`)
	truncateCall  = regexp.MustCompile(`^truncate\(\s*(\d+)\s*,\s*(\d+)\s*\)$`)
	inputTypes    = set("string", "number", "boolean", "array")
	inputKeys     = set("default", "description", "options", "regex", "type")
)

// inputValues checks the given inputs against the header's spec and returns every
// input's value; errors go to c.errs. given is the include:inputs hash or nil.
func (c *compilation) inputValues(header, given *node, file string, at *node) (map[string]*node, bool) {
	before := len(c.errs.list)
	values := map[string]*node{}
	var spec *node
	if header != nil {
		c.checkKeys(header, "", "the header", set("spec"))
		s := header.get("spec")
		if s != nil && !s.isMap() {
			c.errs.add(s, "", "spec must be a hash with inputs:, not %s", s.describe())
		} else if s != nil {
			c.checkKeys(s, "", "spec", set("inputs"))
			spec = s.get("inputs")
		}
	}
	if spec != nil && spec.kind != nullNode && !spec.isMap() {
		c.errs.add(spec, "", "spec:inputs must be a hash of input names, not %s", spec.describe())
		spec = nil
	}
	if given != nil && given.kind != nullNode && !given.isMap() {
		c.errs.add(given, "", "include:inputs must be a hash, not %s", given.describe())
		given = nil
	}
	for _, p := range given.pairsOrNil() {
		if !spec.has(p.key) {
			c.errs.add(p.val, "", "include: %s: given input %q is not defined in the spec:inputs of the included file", file, p.key)
		}
	}
	for _, p := range spec.pairsOrNil() {
		if v := c.inputValue(p, given.get(p.key), at); v != nil {
			values[p.key] = v
		}
	}
	return values, len(c.errs.list) == before
}

func (n *node) pairsOrNil() []pair {
	if !n.isMap() {
		return nil
	}
	return n.pairs
}

// inputValue checks one input against its spec: type, options and regex.
func (c *compilation) inputValue(p pair, given, at *node) *node {
	name, spec := p.key, p.val
	if spec.kind == nullNode {
		spec = &node{kind: mapNode, file: p.val.file, line: p.line}
	}
	if !spec.isMap() {
		c.errs.add(spec, "", "spec:inputs:%s must be a hash, not %s", name, spec.describe())
		return nil
	}
	c.checkKeys(spec, "", "spec:inputs:"+name, inputKeys)
	typ := "string"
	if t := spec.get("type"); t != nil {
		typ, _ = c.text(t, "", "spec:inputs:"+name+":type")
		if !inputTypes[typ] {
			c.errs.add(t, "", "spec:inputs:%s:type %q is not one of: string, number, boolean, array", name, typ)
			return nil
		}
	}
	v, where := given, given
	if v == nil || v.kind == nullNode {
		v, where = spec.get("default"), spec.get("default")
	}
	if v == nil {
		c.errs.add(at, "", "`%s` input: required value has not been provided", name)
		return nil
	}
	if !inputHasType(v, typ) {
		c.errs.add(where, "", "`%s` input: provided value is not a %s", name, typ)
		return nil
	}
	if o := spec.get("options"); o != nil {
		opts := c.stringArray(o, "", "spec:inputs:"+name+":options")
		if !slices.Contains(opts, v.value) || v.kind != scalarNode {
			c.errs.add(where, "", "`%s` input: `%s` cannot be used because it is not in the list of allowed options", name, v.value)
			return nil
		}
	}
	if r := spec.get("regex"); r != nil {
		src, _ := c.text(r, "", "spec:inputs:"+name+":regex")
		re, err := regexp.Compile(strings.TrimSuffix(strings.TrimPrefix(src, "/"), "/"))
		switch {
		case err != nil:
			c.errs.add(r, "", "spec:inputs:%s:regex: %v", name, err)
			return nil
		case typ != "string":
			c.errs.add(r, "", "spec:inputs:%s:regex is only valid for string inputs", name)
			return nil
		case !re.MatchString(v.value):
			c.errs.add(where, "", "`%s` input: provided value does not match required RegEx pattern", name)
			return nil
		}
	}
	return v
}

func inputHasType(v *node, typ string) bool {
	switch typ {
	case "number":
		return v.kind == scalarNode && (v.tag == "!!int" || v.tag == "!!float")
	case "boolean":
		return v.kind == scalarNode && v.tag == "!!bool"
	case "array":
		return v.isSeq()
	}
	return v.isString()
}

// interpolate replaces $[[ inputs.x ]] in every string and key of n. A string that is
// exactly one reference without functions takes the input's own type (a number, a
// boolean, an array), as in GitLab. Other $[[ ]] contexts (matrix) are left alone.
func (c *compilation) interpolate(n *node, values map[string]*node) *node {
	switch n.kind {
	case mapNode:
		out := *n
		out.pairs = make([]pair, len(n.pairs))
		for i, p := range n.pairs {
			if k, ok := c.interpolateString(p.key, values, n); ok {
				p.key = k.value
			}
			p.val = c.interpolate(p.val, values)
			out.pairs[i] = p
		}
		return &out
	case seqNode:
		out := *n
		out.items = make([]*node, len(n.items))
		for i, it := range n.items {
			out.items[i] = c.interpolate(it, values)
		}
		return &out
	case scalarNode:
		if n.tag != "!!str" {
			return n
		}
		if v, ok := c.interpolateString(n.value, values, n); ok {
			v.file, v.line = n.file, n.line
			return v
		}
	}
	return n
}

// interpolateString returns the interpolated value of s, or false when s has nothing
// to replace.
func (c *compilation) interpolateString(s string, values map[string]*node, at *node) (*node, bool) {
	if !strings.Contains(s, "$[[") {
		return nil, false
	}
	if m := interpolation.FindStringSubmatch(s); m != nil && m[0] == s {
		if im := inputAccess.FindStringSubmatch(m[1]); im != nil {
			v, ok := values[im[1]]
			if !ok {
				c.errs.add(at, "", "unknown interpolation key: `%s`", im[1])
				return nil, false
			}
			cp := *v
			return &cp, true
		}
	}
	changed := false
	out := interpolation.ReplaceAllStringFunc(s, func(expr string) string {
		inner := interpolation.FindStringSubmatch(expr)[1]
		parts := strings.Split(inner, "|")
		im := inputAccess.FindStringSubmatch(strings.TrimSpace(parts[0]))
		if im == nil {
			return expr // not an input: another context's expression
		}
		v, ok := values[im[1]]
		if !ok {
			c.errs.add(at, "", "unknown interpolation key: `%s`", im[1])
			return expr
		}
		changed = true
		text := inputText(v)
		for _, f := range parts[1:] {
			var err error
			if text, err = c.applyFunction(strings.TrimSpace(f), text); err != nil {
				c.errs.add(at, "", "interpolation: %v", err)
				return expr
			}
		}
		return text
	})
	if !changed {
		return nil, false
	}
	return &node{kind: scalarNode, tag: "!!str", value: out, file: at.file, line: at.line}, true
}

func inputText(v *node) string {
	if v.isSeq() {
		var items []any
		for _, it := range v.items {
			items = append(items, it.value)
		}
		b, _ := json.Marshal(items)
		return string(b)
	}
	return v.value
}

// applyFunction runs one interpolation function: expand_vars, truncate(offset, length)
// or posix_escape.
func (c *compilation) applyFunction(f, s string) (string, error) {
	switch {
	case f == "expand_vars":
		return expandExisting(s, c.in.Variables), nil
	case f == "posix_escape":
		return posixEscape(s), nil
	case truncateCall.MatchString(f):
		m := truncateCall.FindStringSubmatch(f)
		off, _ := strconv.Atoi(m[1])
		n, _ := strconv.Atoi(m[2])
		r := []rune(s)
		if off > len(r) {
			return "", nil
		}
		return string(r[off:min(len(r), off+n)]), nil
	}
	return "", fmt.Errorf("unknown function %q (known: expand_vars, truncate(offset, length), posix_escape)", f)
}

var posixSafe = regexp.MustCompile(`([^A-Za-z0-9_\-.,:+/@\n])`)

// posixEscape is Ruby's Shellwords.escape.
func posixEscape(s string) string {
	if s == "" {
		return "''"
	}
	s = posixSafe.ReplaceAllString(s, `\$1`)
	return strings.ReplaceAll(s, "\n", "'\n'")
}
