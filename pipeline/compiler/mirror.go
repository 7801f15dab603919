package compiler

import (
	"cmp"
	"io/fs"
	"slices"
	"strings"
)

// templatesKey is the Input.Mirrors key of GitLab's CI/CD templates (include:template).
const templatesKey = "templates"

// source is where included files are read from: the repository being compiled, or a
// local mirror of another project, of remote URLs or of GitLab's templates.
type source struct {
	// prefix names the source's files in errors and Job.File, before their path: "" for
	// the repository, "group/project:" for a project, the URL prefix for remote files,
	// "templates:" for templates.
	prefix string
	// mirror names the mirror in messages ("group/project"); "" for the repository.
	mirror string
	files  repoFiles
	// noProject is set for remote and template files: GitLab includes them without a
	// project, so a local include in them has no repository to read from.
	noProject bool
}

func (s *source) name(p string) string { return s.prefix + p }

// where says which files a message is about: nothing for the repository's.
func (s *source) where() string {
	if s.mirror == "" {
		return ""
	}
	return " in the mirror of " + s.mirror
}

func (s *source) exists(p string) bool { return slices.Contains(s.files.list(), p) }

// mirrors are the sources Input.Mirrors gives, by kind of include.
type mirrors struct {
	projects  map[string]*source
	remotes   []*source // longest prefix first, so the closest mirror of a URL wins
	templates *source
}

func newMirrors(in map[string]fs.FS) mirrors {
	m := mirrors{projects: map[string]*source{}}
	for key, fsys := range in {
		switch {
		case key == templatesKey:
			m.templates = &source{prefix: key + ":", mirror: key, files: repoFiles{fsys: fsys}, noProject: true}
		case isURL(key):
			// A prefix names a directory: https://host/ci must not take https://host/ci-old/x.yml.
			prefix := strings.TrimSuffix(key, "/") + "/"
			m.remotes = append(m.remotes, &source{prefix: prefix, mirror: prefix, files: repoFiles{fsys: fsys}, noProject: true})
		default:
			project := strings.Trim(key, "/")
			m.projects[project] = &source{prefix: project + ":", mirror: project, files: repoFiles{fsys: fsys}}
		}
	}
	slices.SortFunc(m.remotes, func(a, b *source) int {
		return cmp.Or(cmp.Compare(len(b.prefix), len(a.prefix)), cmp.Compare(a.prefix, b.prefix))
	})
	return m
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// mirrorHint is how a refusal tells the user to give a mirror.
func mirrorHint(key string) string {
	return "not supported locally; give a local copy with --include-mirror " + key + "=DIR"
}

// project resolves include:project from the project's mirror. The ref is not checked
// out: the mirror is read as it is.
func (inc *includer) project(e, inputs *node) []includeFile {
	c := inc.c
	written, ok := c.text(e.get("project"), "", "include:project")
	if !ok {
		return nil
	}
	project := strings.Trim(expandExisting(written, c.in.Variables), "/")
	if r := e.get("ref"); r != nil {
		if _, ok := c.text(r, "", "include:ref"); !ok {
			return nil
		}
	}
	src := c.mirrors.projects[project]
	if src == nil {
		c.errs.add(e, "", "include:project %q is %s", written, mirrorHint(project))
		return nil
	}
	f := e.get("file")
	if f == nil {
		c.errs.add(e, "", "include:project %q needs file: the path of a file in the project", written)
		return nil
	}
	items := []*node{f}
	if f.isSeq() {
		items = f.items
	}
	var out []includeFile
	for _, n := range items {
		p, ok := c.text(n, "", "include:file")
		if !ok {
			continue
		}
		if name, ok := inc.mirrored(n, src, expandExisting(p, c.in.Variables), p); ok {
			out = append(out, includeFile{src: src, path: name, inputs: inputs, at: e})
		}
	}
	return out
}

// remote resolves include:remote from the mirror whose URL prefix the URL starts with:
// the rest of the URL is the file's path in the mirror.
func (inc *includer) remote(at *node, url string, inputs *node) []includeFile {
	c := inc.c
	for _, src := range c.mirrors.remotes {
		rest, ok := strings.CutPrefix(url, src.prefix)
		if !ok {
			continue
		}
		if !fs.ValidPath(rest) || strings.ContainsAny(rest, "?#") {
			c.errs.add(at, "", "include:remote %q: %q after the mirror's prefix %s is not a file path", url, rest, src.prefix)
			return nil
		}
		if p, ok := inc.mirrored(at, src, rest, url); ok {
			return []includeFile{{src: src, path: p, inputs: inputs, at: at}}
		}
		return nil
	}
	c.errs.add(at, "", "include:remote %q is %s", url, mirrorHint(urlDir(url)))
	return nil
}

// urlDir is the URL up to its last slash, the prefix a mirror of it would most likely have.
func urlDir(url string) string {
	if i := strings.LastIndexByte(url, '/'); i > len("https://") {
		return url[:i+1]
	}
	return url
}

// template resolves include:template from the templates mirror.
func (inc *includer) template(e, inputs *node) []includeFile {
	c := inc.c
	written, ok := c.text(e.get("template"), "", "include:template")
	if !ok {
		return nil
	}
	src := c.mirrors.templates
	if src == nil {
		c.errs.add(e, "", "include:template %q is %s", written, mirrorHint(templatesKey))
		return nil
	}
	if p, ok := inc.mirrored(e, src, expandExisting(written, c.in.Variables), written); ok {
		return []includeFile{{src: src, path: p, inputs: inputs, at: e}}
	}
	return nil
}

// mirrored checks that p, a file of a mirror written as written, can be included; it
// returns the path in the mirror.
func (inc *includer) mirrored(n *node, src *source, p, written string) (string, bool) {
	p = strings.TrimPrefix(p, "/")
	if !inc.yamlFile(n, p, written) {
		return "", false
	}
	if !src.exists(p) {
		inc.c.errs.add(n, "", "include: file %q does not exist%s", written, src.where())
		return "", false
	}
	return p, true
}
