package compiler

import "strings"

// component resolves include:component for a component of this repository:
// <host>/<this project's path>/<name>@<ref> is templates/<name>.yml or
// templates/<name>/template.yml. The ref is not checked out: the component is read from
// the commit being compiled, as when a project tests its own components. Components of
// other projects need a GitLab server.
func (inc *includer) component(n *node) []string {
	c := inc.c
	written, ok := c.text(n, "", "include:component")
	if !ok {
		return nil
	}
	full := expandExisting(written, c.in.Variables)
	addr, _, hasRef := strings.Cut(full, "@")
	if !hasRef {
		c.errs.add(n, "", "include:component %q needs a version: <host>/<project>/<name>@<ref>", written)
		return nil
	}
	project, _ := lookupVar(c.in.Variables, "CI_PROJECT_PATH")
	host, rest, _ := strings.Cut(addr, "/")
	if fqdn, ok := lookupVar(c.in.Variables, "CI_SERVER_FQDN"); ok && host != fqdn {
		c.errs.add(n, "", "include:component %q is on another server (%s): only this project's components can be included locally", written, host)
		return nil
	}
	name, ok := strings.CutPrefix(rest, project+"/")
	if project == "" || !ok || name == "" || strings.Contains(name, "/") {
		c.errs.add(n, "", "include:component %q is not a component of this project (%s): components of other projects are not supported locally, they need a GitLab server", written, project)
		return nil
	}
	for _, p := range []string{"templates/" + name + ".yml", "templates/" + name + "/template.yml"} {
		if c.exists(p) {
			return []string{p}
		}
	}
	c.errs.add(n, "", "include:component %q: this project has no templates/%s.yml nor templates/%s/template.yml", written, name, name)
	return nil
}
