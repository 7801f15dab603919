package jobspec

import (
	"os"
	"strings"
)

// Variable is one CI/CD variable of a job. Public=false marks a secret (never in a pod spec or
// a log); Masked ones are also scrubbed from the trace; File ones are written to a file whose
// path becomes the value; Raw ones are never expanded.
type Variable struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Public bool   `json:"public"`
	File   bool   `json:"file,omitempty"`
	Masked bool   `json:"masked,omitempty"`
	Raw    bool   `json:"raw,omitempty"`
}

// Secret reports whether the value must stay out of pod specs, events and logs.
func (v Variable) Secret() bool { return !v.Public || v.Masked }

// Variables is an ordered list; a later entry with the same key wins, as in GitLab.
type Variables []Variable

// Get returns the value of the last variable named key, or "".
func (vs Variables) Get(key string) string {
	v, _ := vs.Lookup(key)
	return v
}

// Lookup returns the value of the last variable named key and whether there is one.
func (vs Variables) Lookup(key string) (string, bool) {
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].Key == key {
			return vs[i].Value, true
		}
	}
	return "", false
}

// Expand replaces $KEY and ${KEY} in s with the values of vs; unknown names expand to "".
// Values are taken as they are (not expanded again), which is what GitLab does for a
// single expansion pass.
func (vs Variables) Expand(s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	return os.Expand(s, vs.Get)
}

// Expanded returns a copy in which every non-raw value has been expanded against the
// variables that come before it and itself excluded, so a self-reference stays literal.
func (vs Variables) Expanded() Variables {
	out := make(Variables, len(vs))
	copy(out, vs)
	for i := range out {
		if out[i].Raw {
			continue
		}
		key := out[i].Key
		out[i].Value = os.Expand(out[i].Value, func(name string) string {
			if name == key {
				return "$" + name
			}
			return out[:i].Get(name)
		})
	}
	return out
}

// MaskedValues returns the values that must never appear in the trace: every masked
// variable's value, skipping empty ones (masking "" would mask everything).
func (vs Variables) MaskedValues() []string {
	var out []string
	for _, v := range vs {
		if v.Masked && v.Value != "" {
			out = append(out, v.Value)
		}
	}
	return out
}
