package compiler

import (
	"regexp"
	"strings"

	"github.com/kuberunner/kuberunner/jobspec"
)

func (c *compilation) image(n *node, job, key string, keys map[string]bool) *Image {
	if n.isText() {
		return &Image{Name: n.value}
	}
	if !n.isMap() {
		c.errs.add(n, job, "%s must be a name or a hash with name:, not %s", key, n.describe())
		return nil
	}
	c.checkKeys(n, job, key, keys)
	if v := n.get("kubernetes"); v != nil {
		c.errs.add(v, job, "%s:kubernetes options are not supported locally", key)
	}
	img := &Image{}
	if v := n.get("docker"); v != nil {
		img.Docker = c.docker(v, job, key)
	}
	if v := n.get("name"); v != nil {
		img.Name, _ = c.text(v, job, key+":name")
	} else {
		c.errs.add(n, job, "%s needs name:", key)
	}
	if v := n.get("alias"); v != nil {
		img.Alias, _ = c.text(v, job, key+":alias")
	}
	if v := n.get("entrypoint"); v != nil {
		img.Entrypoint = c.stringArray(v, job, key+":entrypoint")
	}
	if v := n.get("command"); v != nil {
		img.Command = c.stringArray(v, job, key+":command")
	}
	if v := n.get("pull_policy"); v != nil {
		img.PullPolicy = c.strings(v, job, key+":pull_policy")
		for _, p := range img.PullPolicy {
			if !pullPolicies[p] {
				c.errs.add(v, job, "%s:pull_policy %q is not one of: %s", key, p, strings.Join(jobspec.PullPolicies, ", "))
			}
		}
	}
	if v := n.get("variables"); v != nil {
		img.Variables = c.variables(v, job, false)
	}
	return img
}

func (c *compilation) services(n *node, job string) []Image {
	if !n.isSeq() {
		c.errs.add(n, job, "services must be an array, not %s", n.describe())
		return nil
	}
	var out []Image
	for _, it := range n.items {
		if img := c.image(it, job, "services", serviceKeywords); img != nil {
			out = append(out, *img)
		}
	}
	return out
}

// platformPattern is os/arch[/variant], as docker pull --platform takes it.
var platformPattern = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$`)

// docker reads image:docker (GitLab's platform and user).
func (c *compilation) docker(n *node, job, key string) *Docker {
	if !n.isMap() {
		c.errs.add(n, job, "%s:docker must be a hash with platform: and user:, not %s", key, n.describe())
		return nil
	}
	c.checkKeys(n, job, key+":docker", set("platform", "user"))
	d := &Docker{}
	if v := n.get("platform"); v != nil {
		if s, ok := c.text(v, job, key+":docker:platform"); ok {
			d.Platform = strings.ToLower(s)
			if !platformPattern.MatchString(d.Platform) {
				c.errs.add(v, job, "%s:docker:platform %q is not os/arch, like linux/amd64 or linux/arm64/v8", key, s)
			}
		}
	}
	if v := n.get("user"); v != nil {
		d.User, _ = c.text(v, job, key+":docker:user")
	}
	return d
}
