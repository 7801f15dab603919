package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// walker checks a parsed document against the Go types it will be decoded into, before
// decoding. yaml's own errors say "line 4: field tokn not found in type config.Runner";
// walking the node tree lets every problem name its full key path, and records the line
// of each key for Validate.
type walker struct {
	src  *source
	errs []error
	// expanding holds the aliases being walked, to stop at one that contains itself;
	// budget bounds the nodes walked, against aliases nested to expand exponentially.
	expanding map[*yaml.Node]bool
	budget    int
}

// maxNodes is far above any real configuration and far below a stack or memory problem.
const maxNodes = 100_000

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

func (w *walker) fail(line int, path, msg string) {
	w.errs = append(w.errs, &Error{File: w.src.file, Line: line, Key: path, Msg: msg})
}

// enter accounts for walking n and resolves an alias. It returns nil, having reported
// why, when the walk must not go on: an alias that contains itself, or too many nodes.
// The caller calls leave(n) when done with n.
func (w *walker) enter(n *yaml.Node, path string) *yaml.Node {
	if w.budget++; w.budget > maxNodes {
		if w.budget == maxNodes+1 {
			w.fail(n.Line, path, "the document expands to too many values (aliases nested too deep?)")
		}
		return nil
	}
	if n.Kind != yaml.AliasNode {
		return n
	}
	if w.expanding[n.Alias] {
		w.fail(n.Line, path, "alias *"+n.Value+" contains itself")
		return nil
	}
	if w.expanding == nil {
		w.expanding = map[*yaml.Node]bool{}
	}
	w.expanding[n.Alias] = true
	return n.Alias
}

func (w *walker) leave(n *yaml.Node) {
	if n.Kind == yaml.AliasNode {
		delete(w.expanding, n.Alias)
	}
}

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) {
	defer w.leave(n)
	if n = w.enter(n, path); n == nil {
		return
	}
	if n.ShortTag() == "!!null" {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case reflect.PointerTo(t).Implements(unmarshalerType):
		w.leaf(n, t, path)
	case t.Kind() == reflect.Struct:
		w.mapping(n, t, path)
	case t.Kind() == reflect.Map:
		w.freeMapping(n, t, path)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.fail(n.Line, path, "expected a list, got "+kindName(n))
			return
		}
		for i, item := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			w.src.lines[p] = item.Line
			w.walk(item, t.Elem(), p)
		}
	default:
		w.leaf(n, t, path)
	}
}

// mapping checks the keys of n against the yaml tags of struct type t.
func (w *walker) mapping(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.MappingNode {
		w.fail(n.Line, path, "expected a mapping, got "+kindName(n))
		return
	}
	fields := yamlFields(t)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.ShortTag() == "!!merge" {
			// `<<: *anchor` shares settings between runners; its keys count as this mapping's.
			w.merge(v, t, path)
			continue
		}
		p := joinPath(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			w.fail(k.Line, p, fmt.Sprintf("duplicate key (first set at line %d)", first))
			continue
		}
		seen[k.Value] = k.Line
		ft, ok := fields[k.Value]
		if !ok {
			w.fail(k.Line, p, "unknown key"+suggest(k.Value, fields))
			continue
		}
		if v.ShortTag() != "!!null" {
			w.src.lines[p] = k.Line
		}
		w.walk(v, ft, p)
	}
}

// freeMapping walks a map whose keys are the user's (node_selector, pod labels): any key
// is allowed, values are still checked against the element type.
func (w *walker) freeMapping(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.MappingNode {
		w.fail(n.Line, path, "expected a mapping, got "+kindName(n))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := joinPath(path, k.Value)
		w.src.lines[p] = k.Line
		w.walk(v, t.Elem(), p)
	}
}

func (w *walker) merge(v *yaml.Node, t reflect.Type, path string) {
	defer w.leave(v)
	if v = w.enter(v, path); v == nil {
		return
	}
	if v.Kind == yaml.SequenceNode {
		for _, m := range v.Content {
			w.merge(m, t, path)
		}
		return
	}
	w.mapping(v, t, path)
}

// leaf decodes a scalar on its own to report a type mismatch with its key path.
func (w *walker) leaf(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.ScalarNode && t.Kind() != reflect.Interface {
		w.fail(n.Line, path, fmt.Sprintf("expected %s, got %s", typeName(t), kindName(n)))
		return
	}
	err := n.Decode(reflect.New(t).Interface())
	if err == nil {
		return
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		// yaml's message quotes the value; only typed (non-string) leaves get here, so
		// quoting is safe: tokens are strings and always decode.
		w.fail(n.Line, path, fmt.Sprintf("%q is not %s", n.Value, typeName(t)))
		return
	}
	w.fail(n.Line, path, err.Error())
}

// yamlFields maps the yaml key names of struct t to their field types, the way yaml.v3
// names them: the tag's name, else the lowercased field name; ",inline" structs merged in.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(","+opts+",", ",inline,") && f.Type.Kind() == reflect.Struct {
			for k, v := range yamlFields(f.Type) {
				fields[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return "a scalar"
	}
}

func typeName(t reflect.Type) string {
	if t == reflect.TypeFor[Duration]() {
		return "a duration"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Map:
		return "a mapping"
	default:
		return "a " + t.Kind().String()
	}
}
