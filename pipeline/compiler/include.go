package compiler

import (
	"cmp"
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
	src    *source // nil for the repository
	path   string  // in src
	inputs *node   // include:inputs, nil when none are given
	at     *node   // the include entry, for errors
}

// source is where the file is read from.
func (f includeFile) source(c *compilation) *source { return cmp.Or(f.src, c.repo) }

// key names the file among all sources, for the duplicate rule and messages.
func (f includeFile) key(c *compilation) string { return f.source(c).name(f.path) }

func (inc *includer) load(f includeFile, depth int) *node {
	src := f.source(inc.c)
	file := f.key(inc.c)
	header, root, perr := loadFile(src.files.fsys, f.path, file)
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
	for _, f := range inc.files(incl, src, depth) {
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

// files returns the files an include value in a file of from names, in order, each once
// (a file given inputs each time it is named).
func (inc *includer) files(incl *node, from *source, depth int) []includeFile {
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
		for _, f := range inc.entry(e, from) {
			// Every include counts toward the limit, a file named again too, as in
			// GitLab; the file itself is merged once.
			inc.count++
			if inc.count > maxIncludes {
				inc.c.errs.add(e, "", "include: maximum of %d includes are allowed", maxIncludes)
				return out
			}
			if key := f.key(inc.c); f.inputs == nil {
				if inc.seen[key] {
					continue
				}
				inc.seen[key] = true
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

// includeKinds are the keywords that say where an include entry's file is.
var includeKinds = []string{"local", "component", "project", "remote", "template"}

// entry resolves one include entry of a file of from to the files it names.
func (inc *includer) entry(e *node, from *source) []includeFile {
	c := inc.c
	if e.isText() {
		if isURL(e.value) {
			return inc.remote(e, e.value, nil)
		}
		return inc.local(e, e.value, from, nil, e)
	}
	if !e.isMap() {
		c.errs.add(e, "", "include: an entry must be a path or a hash, not %s", e.describe())
		return nil
	}
	kind := ""
	for _, k := range includeKinds {
		if !e.has(k) {
			continue
		}
		if kind != "" {
			c.errs.add(e, "", "include: an entry takes one of local:, component:, project:, remote: or template:, not both %s: and %s:", kind, k)
			return nil
		}
		kind = k
	}
	for _, p := range e.pairs {
		switch {
		case p.key == kind, p.key == "rules", p.key == "inputs":
		case p.key == "file" || p.key == "ref":
			if kind != "project" {
				c.errs.add(p.val, "", "include:%s is only valid with include:project", p.key)
				return nil
			}
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
	switch kind {
	case "component":
		src, paths := inc.component(e.get(kind))
		out := make([]includeFile, len(paths))
		for i, p := range paths {
			out[i] = includeFile{src: src, path: p, inputs: inputs, at: e}
		}
		return out
	case "project":
		return inc.project(e, inputs)
	case "template":
		return inc.template(e, inputs)
	case "remote":
		url, ok := c.text(e.get(kind), "", "include:remote")
		if !ok {
			return nil
		}
		return inc.remote(e, expandExisting(url, c.in.Variables), inputs)
	}
	local := e.get("local")
	if !local.isText() {
		c.errs.add(e, "", "include: an entry needs local: a path")
		return nil
	}
	return inc.local(local, local.value, from, inputs, e)
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

// local resolves an include:local path of a file of src, expanding variables and
// wildcards: local files are those of the project the including file belongs to.
//
// Messages quote the path as written: an expanded one could show a variable's value.
func (inc *includer) local(n *node, written string, src *source, inputs, at *node) []includeFile {
	c := inc.c
	if src.noProject {
		c.errs.add(n, "", "include: local file %q: this file came from include:remote or include:template, which GitLab reads without a project, so it has no local files to include", written)
		return nil
	}
	p := expandExisting(written, c.in.Variables)
	if why := relativePath(p, written, "include:local"); why != "" {
		c.errs.add(n, "", "include: local file %s", why)
		return nil
	}
	p = strings.TrimPrefix(p, "/")
	if !inc.yamlFile(n, p, written) {
		return nil
	}
	if !strings.Contains(p, "*") {
		if !src.exists(p) {
			c.errs.add(n, "", "include: local file %q does not exist%s", written, src.where())
			return nil
		}
		return []includeFile{{src: src, path: p, inputs: inputs, at: at}}
	}
	re, err := wildcardRegexp(p)
	if err != nil {
		c.errs.add(n, "", "include: invalid wildcard %q: %v", written, err)
		return nil
	}
	var out []includeFile
	for _, f := range src.files.list() {
		if re.MatchString(f) {
			out = append(out, includeFile{src: src, path: f, inputs: inputs, at: at})
		}
	}
	if len(out) == 0 {
		c.errs.add(n, "", "include: no local file matches %q%s", written, src.where())
	}
	return out
}

// yamlFile says whether p, written as written, has a YAML extension, as GitLab requires
// of every included file.
func (inc *includer) yamlFile(n *node, p, written string) bool {
	if ext := path.Ext(p); ext != ".yml" && ext != ".yaml" {
		inc.c.errs.add(n, "", "include: %q does not have a YAML extension (.yml or .yaml)", written)
		return false
	}
	return true
}
