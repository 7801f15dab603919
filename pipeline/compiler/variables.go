package compiler

import (
	"slices"
	"strings"

	"github.com/kuberunner/kuberunner/jobspec"
)

var (
	globalVariableKeys = set("value", "description", "expand", "options")
	jobVariableKeys    = set("value", "expand")
)

// variables decodes a variables: hash. Global variables may carry a description and
// options; job variables only value and expand, as in GitLab.
func (c *compilation) variables(n *node, job string, global bool) []Var {
	if n == nil || n.kind == nullNode {
		return nil
	}
	if !n.isMap() {
		c.errs.add(n, job, "variables must be a hash of names and values, not %s", n.describe())
		return nil
	}
	allowed := jobVariableKeys
	if global {
		allowed = globalVariableKeys
	}
	var out []Var
	for _, p := range n.pairs {
		v := Var{Key: p.key, Expand: true}
		switch {
		case p.val.isText():
			v.Value = p.val.value
		case p.val.isMap():
			if !c.checkKeys(p.val, job, "variable "+p.key, allowed) {
				continue
			}
			if val := p.val.get("value"); val != nil {
				v.Value, _ = c.text(val, job, "variables:"+p.key+":value")
			}
			if d := p.val.get("description"); d != nil {
				v.Description, _ = c.text(d, job, "variables:"+p.key+":description")
			}
			if e := p.val.get("expand"); e != nil {
				v.Expand = c.boolean(e, job, "variables:"+p.key+":expand")
			}
			if o := p.val.get("options"); o != nil {
				opts := c.stringArray(o, job, "variables:"+p.key+":options")
				if len(opts) > 0 && !slices.Contains(opts, v.Value) {
					c.errs.add(o, job, "variables:%s: the value %q is not one of its options", p.key, v.Value)
				}
			}
		default:
			c.errs.add(p.val, job, "variables:%s must be a string, a number or a hash with value:, not %s", p.key, p.val.describe())
			continue
		}
		out = append(out, v)
	}
	return out
}

// mergeVars returns base with over applied: a key already in base keeps its place and
// takes the new value, new keys come last (Ruby's Hash#merge).
func mergeVars(base, over []Var) []Var {
	out := slices.Clone(base)
	for _, v := range over {
		if i := slices.IndexFunc(out, func(o Var) bool { return o.Key == v.Key }); i >= 0 {
			out[i] = v
			continue
		}
		out = append(out, v)
	}
	return out
}

// lookup builds the variable lookup an expression is evaluated with: the caller's
// variables (predefined and user-given) win over the file's, and file values are
// expanded against what comes before them, as at run time.
func lookup(input, yaml []Var) func(string) (string, bool) {
	all := make(jobspec.Variables, 0, len(input)+len(yaml))
	for _, v := range slices.Concat(input, yaml) {
		all = append(all, jobspec.Variable{Key: v.Key, Value: v.Value, Raw: !v.Expand})
	}
	expanded := all.Expanded()
	return func(name string) (string, bool) {
		if v, ok := lookupVar(input, name); ok {
			return v, true
		}
		return expanded.Lookup(name)
	}
}

// expandExisting replaces $NAME and ${NAME} for the variables that are defined and
// leaves the others as written, as GitLab's ExpandVariables.expand_existing does.
func expandExisting(s string, vars []Var) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			b.WriteByte(s[i])
			continue
		}
		name, n := varRef(s[i:])
		if n == 0 {
			b.WriteByte('$')
			continue
		}
		if v, ok := lookupVar(vars, name); ok {
			b.WriteString(v)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n - 1
	}
	return b.String()
}

// varRef parses $NAME or ${NAME} at the start of s, returning the name and the length.
func varRef(s string) (string, int) {
	if strings.HasPrefix(s, "${") {
		end := strings.IndexByte(s, '}')
		if end < 3 {
			return "", 0
		}
		return s[2:end], end + 1
	}
	n := 1
	for n < len(s) && (s[n] == '_' || s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || s[n] >= '0' && s[n] <= '9') {
		n++
	}
	if n == 1 {
		return "", 0
	}
	return s[1:n], n
}

// lookupVar returns the value of the last variable named key.
func lookupVar(vars []Var, key string) (string, bool) {
	for i := len(vars) - 1; i >= 0; i-- {
		if vars[i].Key == key {
			return vars[i].Value, true
		}
	}
	return "", false
}
