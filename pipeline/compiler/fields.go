package compiler

import (
	"regexp"
	"strings"
)

const (
	maxCaches       = 4
	maxFallbackKeys = 5
	maxRetry        = 2
)

func (c *compilation) artifacts(n *node, job string) *Artifacts {
	if !n.isMap() {
		c.errs.add(n, job, "artifacts must be a hash, not %s", n.describe())
		return nil
	}
	c.checkKeys(n, job, "artifacts", artifactsKeywords)
	a := &Artifacts{When: "on_success"}
	for _, p := range n.pairs {
		v := p.val
		switch p.key {
		case "name":
			a.Name, _ = c.text(v, job, "artifacts:name")
		case "paths":
			a.Paths = c.stringArray(v, job, "artifacts:paths")
		case "exclude":
			a.Exclude = c.stringArray(v, job, "artifacts:exclude")
		case "untracked":
			a.Untracked = c.boolean(v, job, "artifacts:untracked")
		case "when":
			a.When = c.oneOf(v, job, "artifacts:when", artifactWhen)
		case "expire_in":
			if s, ok := c.text(v, job, "artifacts:expire_in"); ok {
				a.ExpireIn = s
				if _, err := ParseDuration(s); err != nil && s != "never" {
					c.errs.add(v, job, "artifacts:expire_in: %v", err)
				}
			}
		case "expose_as":
			a.ExposeAs, _ = c.text(v, job, "artifacts:expose_as")
		case "reports":
			a.Reports = c.reports(v, job)
		case "public", "access":
			// Who may download artifacts on GitLab: nothing to do for a local run.
		}
	}
	return a
}

func (c *compilation) reports(n *node, job string) map[string][]string {
	if !n.isMap() {
		c.errs.add(n, job, "artifacts:reports must be a hash, not %s", n.describe())
		return nil
	}
	out := map[string][]string{}
	for _, p := range n.pairs {
		if p.val.isMap() { // coverage_report: {coverage_format, path}
			if path := p.val.get("path"); path != nil {
				out[p.key] = c.strings(path, job, "artifacts:reports:"+p.key+":path")
				continue
			}
		}
		out[p.key] = c.strings(p.val, job, "artifacts:reports:"+p.key)
	}
	return out
}

func (c *compilation) caches(n *node, job string) []Cache {
	items := []*node{n}
	if n.isSeq() {
		items = n.items
	}
	if len(items) > maxCaches {
		c.errs.add(n, job, "cache: at most %d caches are allowed", maxCaches)
	}
	out := []Cache{}
	for _, it := range items {
		if !it.isMap() {
			c.errs.add(it, job, "cache must be a hash or an array of hashes, not %s", it.describe())
			continue
		}
		c.checkKeys(it, job, "cache", cacheKeywords)
		ca := Cache{Key: "default", Policy: "pull-push", When: "on_success"}
		for _, p := range it.pairs {
			v := p.val
			switch p.key {
			case "key":
				c.cacheKey(v, job, &ca)
			case "paths":
				ca.Paths = c.stringArray(v, job, "cache:paths")
			case "untracked":
				ca.Untracked = c.boolean(v, job, "cache:untracked")
			case "policy":
				if s, ok := c.text(v, job, "cache:policy"); ok {
					if !cachePolicy[s] && !strings.Contains(s, "$") {
						c.errs.add(v, job, "cache:policy %q is not one of: pull, push, pull-push", s)
					}
					ca.Policy = s
				}
			case "when":
				ca.When = c.oneOf(v, job, "cache:when", artifactWhen)
			case "fallback_keys":
				ca.FallbackKeys = c.stringArray(v, job, "cache:fallback_keys")
				if len(ca.FallbackKeys) > maxFallbackKeys {
					c.errs.add(v, job, "cache:fallback_keys: at most %d keys are allowed", maxFallbackKeys)
				}
			case "unprotect":
				c.boolean(v, job, "cache:unprotect") // protected-branch caches are a server notion
			}
		}
		out = append(out, ca)
	}
	return out
}

func (c *compilation) cacheKey(n *node, job string, ca *Cache) {
	if n.isText() {
		ca.Key = n.value
		if ca.Key == "" || strings.Contains(ca.Key, "/") || ca.Key == "." || ca.Key == ".." {
			c.errs.add(n, job, "cache:key %q cannot be empty, contain / or be . or ..", ca.Key)
		}
		return
	}
	if !n.isMap() {
		c.errs.add(n, job, "cache:key must be a string or a hash with files:, not %s", n.describe())
		return
	}
	c.checkKeys(n, job, "cache:key", set("files", "prefix"))
	ca.Key = ""
	if f := n.get("files"); f != nil {
		ca.KeyFiles = c.stringArray(f, job, "cache:key:files")
		if len(ca.KeyFiles) < 1 || len(ca.KeyFiles) > 2 {
			c.errs.add(f, job, "cache:key:files must list one or two files")
		}
	} else {
		c.errs.add(n, job, "cache:key needs files:")
	}
	if p := n.get("prefix"); p != nil {
		ca.KeyPrefix, _ = c.text(p, job, "cache:key:prefix")
	}
}

func (c *compilation) retry(n *node, job string) Retry {
	var r Retry
	if n.isMap() {
		c.checkKeys(n, job, "retry", retryKeywords)
		if m := n.get("max"); m != nil {
			r.Max = c.retryMax(m, job)
		}
		if w := n.get("when"); w != nil {
			r.When = c.strings(w, job, "retry:when")
			for _, s := range r.When {
				if !retryWhens[s] {
					c.errs.add(w, job, "retry:when %q is not a failure GitLab retries on", s)
				}
			}
		}
		if e := n.get("exit_codes"); e != nil {
			r.ExitCodes = c.ints(e, job, "retry:exit_codes")
		}
		return r
	}
	r.Max = c.retryMax(n, job)
	return r
}

func (c *compilation) retryMax(n *node, job string) int {
	i, ok := c.integer(n, job, "retry")
	if ok && (i < 0 || i > maxRetry) {
		c.errs.add(n, job, "retry must be between 0 and %d, not %d", maxRetry, i)
	}
	return i
}

func (c *compilation) timeout(n *node, job string) string {
	s, ok := c.text(n, job, "timeout")
	if !ok {
		return ""
	}
	if _, err := ParseDuration(s); err != nil {
		c.errs.add(n, job, "timeout: %v", err)
	}
	return s
}

func (c *compilation) startIn(n *node, job, when string) string {
	s, ok := c.text(n, job, "start_in")
	if !ok {
		return ""
	}
	if when != "delayed" {
		c.errs.add(n, job, "start_in is only valid with when: delayed")
	}
	d, err := ParseDuration(s)
	switch {
	case err != nil:
		c.errs.add(n, job, "start_in: %v", err)
	case d > week:
		c.errs.add(n, job, "start_in must be at most one week")
	}
	return s
}

func (c *compilation) environment(n *node, job string) string {
	if n.isText() {
		return n.value
	}
	if !n.isMap() {
		c.errs.add(n, job, "environment must be a name or a hash with name:, not %s", n.describe())
		return ""
	}
	c.checkKeys(n, job, "environment", environmentKeywords)
	if v := n.get("name"); v != nil {
		s, _ := c.text(v, job, "environment:name")
		return s
	}
	c.errs.add(n, job, "environment needs name:")
	return ""
}

var coverageRegexp = regexp.MustCompile(`^/(.+)/$`)

// coverage returns the regexp between the slashes, checked with RE2 (GitLab's engine).
func (c *compilation) coverage(n *node, job string) string {
	s, ok := c.text(n, job, "coverage")
	if !ok {
		return ""
	}
	m := coverageRegexp.FindStringSubmatch(s)
	if m == nil {
		c.errs.add(n, job, "coverage must be a regular expression between slashes, like /Total: \\d+%%/")
		return ""
	}
	src := strings.ReplaceAll(m[1], `\/`, "/")
	if _, err := regexp.Compile(src); err != nil {
		c.errs.add(n, job, "coverage: %v", err)
	}
	return src
}
