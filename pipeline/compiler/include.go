package compiler

import (
	"fmt"
	"path"
	"strings"
)

const (
	maxIncludes     = 150
	maxIncludeDepth = 100
)

// includer loads a file and everything it includes, merged the way GitLab merges them:
// each included file deep-merged over the previous ones, the including file last.
type includer struct {
	c     *compilation
	seen  map[string]bool
	count int
}

// includeFile is one file to include and the inputs it is given.
type includeFile struct {
	path   string
	inputs *node // include:inputs, nil when none are given
	at     *node // the include entry, for errors
}

func (inc *includer) load(f includeFile, depth int) *node {
	file := f.path
	header, root, perr := loadFile(inc.c.in.FS, file)
	if perr != nil {
		inc.c.errs.list = append(inc.c.errs.list, *perr)
		return nil
	}
	if header != nil || f.inputs != nil {
		at := f.at
		if at == nil {
			at = header
		}
		values, ok := inc.c.inputValues(header, f.inputs, file, at)
		if !ok {
			return nil
		}
		if root != nil {
			root = inc.c.interpolate(root, values)
		}
	}
	if root == nil {
		return nil
	}
	if !root.isMap() {
		inc.c.errs.add(root, "", "the configuration must be a hash of keywords and jobs, not %s", root.describe())
		return nil
	}
	incl := root.get("include")
	if incl == nil {
		return root
	}
	var merged *node
	for _, f := range inc.files(incl, depth) {
		sub := inc.load(f, depth+1)
		if sub == nil {
			continue
		}
		if merged == nil {
			merged = sub
		} else {
			merged = deepMerge(merged, sub)
		}
	}
	own := root.without("include")
	if merged == nil {
		return own
	}
	return deepMerge(merged, own)
}

// files returns the local files an include value names, in order, each once (a file
// given inputs each time it is named).
func (inc *includer) files(incl *node, depth int) []includeFile {
	var entries []*node
	switch {
	case incl.kind == nullNode:
		return nil
	case incl.isSeq():
		entries = incl.items
	default:
		entries = []*node{incl}
	}
	var out []includeFile
	for _, e := range entries {
		for _, f := range inc.entry(e) {
			// Every include counts toward the limit, a file named again too, as in
			// GitLab; the file itself is merged once.
			inc.count++
			if inc.count > maxIncludes {
				inc.c.errs.add(e, "", "include: maximum of %d includes are allowed", maxIncludes)
				return out
			}
			if f.inputs == nil {
				if inc.seen[f.path] {
					continue
				}
				inc.seen[f.path] = true
			}
			if depth+1 > maxIncludeDepth {
				inc.c.errs.add(e, "", "include: maximum of %d nested includes are allowed", maxIncludeDepth)
				return out
			}
			out = append(out, f)
		}
	}
	return out
}

var serverIncludes = []string{"remote", "project", "template"}

// entry resolves one include entry to the files it names.
func (inc *includer) entry(e *node) []includeFile {
	c := inc.c
	if e.isText() {
		p := e.value
		if strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") {
			c.errs.add(e, "", "include:remote %q is not supported locally", p)
			return nil
		}
		return files(inc.local(e, p), nil, e)
	}
	if !e.isMap() {
		c.errs.add(e, "", "include: an entry must be a path or a hash, not %s", e.describe())
		return nil
	}
	for _, k := range serverIncludes {
		if e.has(k) {
			c.errs.add(e, "", "include:%s is not supported locally: it needs a GitLab server", k)
			return nil
		}
	}
	for _, p := range e.pairs {
		switch p.key {
		case "local", "component", "rules", "inputs":
		case "file", "ref":
			c.errs.add(p.val, "", "include:%s is only valid with include:project, which is not supported locally", p.key)
			return nil
		default:
			c.errs.add(p.val, "", "include: unknown keyword %q", p.key)
			return nil
		}
	}
	if r := e.get("rules"); r != nil {
		rs := c.parseRules(r, "", includeRuleKeywords, set("always", "never"))
		if m := c.matchRules(rs, lookup(c.in.Variables, nil), nil); m == nil || m.when == "never" {
			return nil
		}
	}
	inputs := e.get("inputs")
	if comp := e.get("component"); comp != nil {
		if e.has("local") {
			c.errs.add(e, "", "include: an entry takes local: or component:, not both")
			return nil
		}
		return files(inc.component(comp), inputs, e)
	}
	local := e.get("local")
	if !local.isText() {
		c.errs.add(e, "", "include: an entry needs local: a path")
		return nil
	}
	return files(inc.local(local, local.value), inputs, e)
}

func files(paths []string, inputs, at *node) []includeFile {
	out := make([]includeFile, len(paths))
	for i, p := range paths {
		out[i] = includeFile{path: p, inputs: inputs, at: at}
	}
	return out
}

// relativePath says why p (written as written) cannot be a local file named by key,
// when it is relative: GitLab reads local files from the repository root, whichever file
// names them.
func relativePath(p, written, key string) string {
	if !strings.HasPrefix(p, "./") && !strings.HasPrefix(p, "../") {
		return ""
	}
	msg := fmt.Sprintf("%q is a relative path, which GitLab does not support: %s paths start at the repository root", written, key)
	if rest, ok := strings.CutPrefix(p, "./"); ok && !strings.HasPrefix(rest, "../") {
		msg += fmt.Sprintf(" (write %q)", "/"+rest)
	}
	return msg
}

// local resolves an include:local path, expanding variables and wildcards.
//
// Messages quote the path as written: an expanded one could show a variable's value.
func (inc *includer) local(n *node, written string) []string {
	c := inc.c
	p := expandExisting(written, c.in.Variables)
	if why := relativePath(p, written, "include:local"); why != "" {
		c.errs.add(n, "", "include: local file %s", why)
		return nil
	}
	p = strings.TrimPrefix(p, "/")
	if ext := path.Ext(p); ext != ".yml" && ext != ".yaml" {
		c.errs.add(n, "", "include: %q does not have a YAML extension (.yml or .yaml)", written)
		return nil
	}
	if !strings.Contains(p, "*") {
		if !c.exists(p) {
			c.errs.add(n, "", "include: local file %q does not exist", written)
			return nil
		}
		return []string{p}
	}
	re, err := wildcardRegexp(p)
	if err != nil {
		c.errs.add(n, "", "include: invalid wildcard %q: %v", written, err)
		return nil
	}
	var out []string
	for _, f := range c.files.list() {
		if re.MatchString(f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		c.errs.add(n, "", "include: no local file matches %q", written)
	}
	return out
}

func (c *compilation) exists(p string) bool {
	for _, f := range c.files.list() {
		if f == p {
			return true
		}
	}
	return false
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
