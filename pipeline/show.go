package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/kuberunner/kuberunner/pipeline/compiler"
)

// Show renders p as `pipeline show` prints it, in format yaml or json: what the
// configuration says and no more. The global variables are listed once, not again in
// every job that inherits them, and fields without a value (null) are left out; an empty
// list stays, as it means something (needs: []).
func Show(p *compiler.Pipeline, format string) ([]byte, error) {
	if format != "yaml" && format != "json" {
		return nil, fmt.Errorf("--format %q: want yaml or json", format)
	}
	data, err := json.Marshal(withoutInherited(p))
	if err != nil {
		return nil, err
	}
	var doc yaml.Node // keeps the order of the keys, where a map would sort them
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	dropNulls(&doc)
	if format == "json" {
		var b bytes.Buffer
		writeJSON(&b, doc.Content[0])
		var out bytes.Buffer
		if err := json.Indent(&out, b.Bytes(), "", "  "); err != nil {
			return nil, err
		}
		return append(out.Bytes(), '\n'), nil
	}
	return encodeYAML(&doc)
}

// withoutInherited is p with each job's variables less those equal to a global one.
func withoutInherited(p *compiler.Pipeline) *compiler.Pipeline {
	out := *p
	out.Jobs = make([]*compiler.Job, len(p.Jobs))
	for i, j := range p.Jobs {
		c := *j
		c.Variables = slices.DeleteFunc(slices.Clone(j.Variables), func(v compiler.Var) bool {
			return slices.Contains(p.Variables, v)
		})
		out.Jobs[i] = &c
	}
	return &out
}

func dropNulls(n *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		var kept []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if v := n.Content[i+1]; v.Kind != yaml.ScalarNode || v.Tag != "!!null" {
				kept = append(kept, n.Content[i], v)
			}
		}
		n.Content = kept
	}
	for _, c := range n.Content {
		dropNulls(c)
	}
}

// writeJSON writes the node tree decoded from JSON back as compact JSON, in its order.
func writeJSON(b *bytes.Buffer, n *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode, yaml.SequenceNode:
		open, end, step := byte('{'), byte('}'), 2
		if n.Kind == yaml.SequenceNode {
			open, end, step = '[', ']', 1
		}
		b.WriteByte(open)
		for i := 0; i < len(n.Content); i += step {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSON(b, n.Content[i])
			if step == 2 {
				b.WriteByte(':')
				writeJSON(b, n.Content[i+1])
			}
		}
		b.WriteByte(end)
	case yaml.ScalarNode:
		if n.Tag == "!!str" {
			q, _ := json.Marshal(n.Value) // a string always marshals
			b.Write(q)
			return
		}
		b.WriteString(n.Value) // numbers, booleans and null are JSON as they are
	}
}

// encodeYAML writes the tree as block-style YAML.
func encodeYAML(doc *yaml.Node) ([]byte, error) {
	var plain func(n *yaml.Node)
	plain = func(n *yaml.Node) {
		n.Style = 0
		for _, c := range n.Content {
			plain(c)
		}
	}
	plain(doc)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, errors.Join(err, enc.Close())
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
