package compiler

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"
)

const (
	tagReference = "!reference"
	tagFailed    = "!failed" // what an unresolvable !reference becomes
)

// maxNodes bounds what aliases may expand to, against "billion laughs" files.
const maxNodes = 1 << 20

var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// loadFile reads and parses one configuration file: its header document (spec:, nil
// when it has none) and its configuration. An empty configuration gives a nil node.
// name is what errors and jobs call the file.
func loadFile(fsys fs.FS, path, name string) (header, config *node, _ *Error) {
	data, err := fs.ReadFile(fsys, path)
	if err != nil {
		return nil, nil, &Error{File: name, Msg: fmt.Sprintf("cannot read file: %v", unwrapPathError(err))}
	}
	return parseYAML(name, data)
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func parseYAML(path string, data []byte) (header, config *node, _ *Error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			e := &Error{File: path, Msg: "invalid YAML: " + err.Error()}
			if m := yamlErrLine.FindStringSubmatch(err.Error()); m != nil {
				e.Line, _ = strconv.Atoi(m[1])
				e.Msg = "invalid YAML: " + m[2]
			}
			if line := errorLine(data); line > 0 {
				e.Line = line
			}
			return nil, nil, e
		}
		docs = append(docs, &doc)
	}
	c := converter{file: path}
	switch len(docs) {
	case 0:
		return nil, nil, nil
	case 1:
	case 2:
		// A header document (`spec:`) in front of the configuration.
		header = c.convert(docs[0])
		if c.err == nil && !header.has("spec") {
			return nil, nil, &Error{File: path, Line: docs[0].Line, Msg: "invalid YAML: a file of two documents starts with a header holding spec:"}
		}
		docs = docs[1:]
	default:
		return nil, nil, &Error{File: path, Line: docs[2].Line, Msg: "invalid YAML: a configuration file holds one document, or a spec: header and one document"}
	}
	n := c.convert(docs[0])
	if c.err != nil {
		return nil, nil, c.err
	}
	if n.kind == nullNode {
		return header, nil, nil
	}
	return header, n, nil
}

type converter struct {
	file  string
	count int
	err   *Error
	depth int
}

func (c *converter) fail(n *yaml.Node, format string, args ...any) *node {
	if c.err == nil {
		c.err = &Error{File: c.file, Line: n.Line, Msg: fmt.Sprintf(format, args...)}
	}
	return &node{kind: nullNode, file: c.file, line: n.Line}
}

func (c *converter) convert(y *yaml.Node) *node {
	c.count++
	if c.count > maxNodes || c.depth > 200 {
		return c.fail(y, "invalid YAML: document contains excessive aliasing or nesting")
	}
	c.depth++
	defer func() { c.depth-- }()
	switch y.Kind {
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return &node{kind: nullNode, file: c.file, line: y.Line}
		}
		return c.convert(y.Content[0])
	case yaml.AliasNode:
		return c.convert(y.Alias)
	case yaml.ScalarNode:
		return c.scalar(y)
	case yaml.SequenceNode:
		n := &node{kind: seqNode, file: c.file, line: y.Line}
		switch y.Tag {
		case "!!seq", "":
		case tagReference:
			n.tag = tagReference
		default:
			return c.fail(y, "invalid YAML: unknown tag %s", y.Tag)
		}
		for _, item := range y.Content {
			n.items = append(n.items, c.convert(item))
		}
		return n
	case yaml.MappingNode:
		return c.mapping(y)
	}
	return c.fail(y, "invalid YAML: unexpected node")
}

func (c *converter) scalar(y *yaml.Node) *node {
	n := &node{kind: scalarNode, file: c.file, line: y.Line, value: y.Value, tag: y.ShortTag()}
	switch n.tag {
	case "!!str", "!!binary", "!!timestamp":
		n.tag = "!!str"
	case "!!null":
		n.kind = nullNode
		n.value = ""
	case "!!bool":
		var b bool
		if err := y.Decode(&b); err != nil {
			return c.fail(y, "invalid YAML: %v", err)
		}
		n.value = strconv.FormatBool(b)
	case "!!int":
		var i int64
		if err := y.Decode(&i); err != nil {
			// Out of int64 range: keep it as written, Ruby would keep a Bignum.
			break
		}
		n.value = strconv.FormatInt(i, 10)
	case "!!float":
		var f float64
		if err := y.Decode(&f); err != nil {
			return c.fail(y, "invalid YAML: %v", err)
		}
		n.value = rubyFloat(f)
	case tagReference:
		return c.fail(y, "!reference must be an array of keys, like !reference [.job, script]")
	default:
		return c.fail(y, "invalid YAML: unknown tag %s", y.Tag)
	}
	return n
}

// mapping converts a map, applying merge keys the way Ruby's Psych (GitLab's YAML
// parser) does: in place, so keys written after `<<` override merged ones and keys
// before it are overridden; in a list of merged maps the first one wins.
func (c *converter) mapping(y *yaml.Node) *node {
	n := &node{kind: mapNode, file: c.file, line: y.Line}
	for i := 0; i+1 < len(y.Content); i += 2 {
		k, v := y.Content[i], y.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "!!merge" || k.ShortTag() == "!!merge") {
			for _, m := range c.mergeSources(v) {
				for _, p := range m.pairs {
					n = n.set(p.key, p.val)
				}
			}
			continue
		}
		if k.Kind == yaml.AliasNode {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			return c.fail(k, "invalid YAML: a key must be a plain value")
		}
		key := k.Value
		if k.ShortTag() == "!!null" {
			key = ""
		}
		val := c.convert(v)
		if n.has(key) {
			n = n.set(key, val) // a duplicate key: the last one wins, as in Psych
			continue
		}
		n.pairs = append(n.pairs, pair{key: key, line: k.Line, val: val})
	}
	return n
}

// mergeSources returns the maps a `<<` value brings in, the winning one last.
func (c *converter) mergeSources(v *yaml.Node) []*node {
	if v.Kind == yaml.AliasNode {
		v = v.Alias
	}
	switch v.Kind {
	case yaml.MappingNode:
		return []*node{c.convert(v)}
	case yaml.SequenceNode:
		var out []*node
		for i := len(v.Content) - 1; i >= 0; i-- {
			out = append(out, c.mergeSources(v.Content[i])...)
		}
		return out
	}
	c.fail(v, "invalid YAML: << must merge a hash or a list of hashes")
	return nil
}

// errorLine returns the line where a YAML syntax error is: the first line whose prefix of
// the file no longer parses. The parser's own line is where the enclosing block began
// (a mapping at line 1 for a bad indent at line 5), which sends the reader to the wrong
// place. Cutting a valid file at a line end leaves valid YAML nearly always, so the
// search runs in halves; 0 when no prefix fails.
func errorLine(data []byte) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	prefix := func(n int) []byte { return bytes.Join(lines[:n], nil) }
	if parses(prefix(len(lines))) {
		return 0
	}
	lo, hi := 0, len(lines) // prefix(lo) parses, prefix(hi) does not
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if parses(prefix(mid)) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

func parses(data []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return false
		}
	}
}
