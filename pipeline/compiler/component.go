package compiler

import "strings"

// component resolves include:component: <host>/<project path>/<name>@<ref> is
// templates/<name>.yml or templates/<name>/template.yml of the project. This project's
// components are read from the commit being compiled, as when a project tests its own
// components; another project's from its mirror (Input.Mirrors). The ref is not checked
// out either way.
func (inc *includer) component(n *node) (*source, []string) {
	c := inc.c
	written, ok := c.text(n, "", "include:component")
	if !ok {
		return nil, nil
	}
	full := expandExisting(written, c.in.Variables)
	addr, _, hasRef := strings.Cut(full, "@")
	if !hasRef {
		c.errs.add(n, "", "include:component %q needs a version: <host>/<project>/<name>@<ref>", written)
		return nil, nil
	}
	project, _ := lookupVar(c.in.Variables, "CI_PROJECT_PATH")
	host, rest, _ := strings.Cut(addr, "/")
	if fqdn, ok := lookupVar(c.in.Variables, "CI_SERVER_FQDN"); ok && host != fqdn {
		c.errs.add(n, "", "include:component %q is on another server (%s): only this server's components can be included locally", written, host)
		return nil, nil
	}
	owner, name := path2(rest)
	src := c.repo
	if owner != project || project == "" {
		src = c.mirrors.projects[owner]
	}
	if src == nil || owner == "" || name == "" {
		c.errs.add(n, "", "include:component %q is not a component of this project (%s): components of other projects are %s", written, project, mirrorHint(owner))
		return nil, nil
	}
	for _, p := range []string{"templates/" + name + ".yml", "templates/" + name + "/template.yml"} {
		if src.exists(p) {
			return src, []string{p}
		}
	}
	who := "this project has"
	if src != c.repo {
		who = "the mirror of " + owner + " has"
	}
	c.errs.add(n, "", "include:component %q: %s no templates/%s.yml nor templates/%s/template.yml", written, who, name, name)
	return nil, nil
}

// path2 splits a component's path into its project and its name, the last element.
func path2(p string) (project, name string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}
