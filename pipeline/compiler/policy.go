package compiler

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/kuberunner/kuberunner/pipeline/compiler/rules"
)

// policy is a parsed only: or except:.
type policy struct {
	refs       []string
	hasRefs    bool
	vars       []*rules.Expr
	hasVars    bool
	changes    []string
	hasChanges bool
}

// defaultOnly is what a job without rules, only or except runs on.
var defaultOnly = &policy{refs: []string{"branches", "tags"}, hasRefs: true}

var refKeywordSources = map[string]string{
	"api": "api", "external": "external", "pipelines": "pipeline", "pushes": "push",
	"schedules": "schedule", "triggers": "trigger", "web": "web", "chat": "chat",
	"merge_requests": "merge_request_event", "external_pull_requests": "external_pull_request_event",
}

func (c *compilation) parsePolicy(n *node, job, key string) *policy {
	p := &policy{}
	switch {
	case n.isSeq() || n.isText():
		p.hasRefs = true
		p.refs = c.refs(n, job, key)
	case n.isMap():
		c.checkKeys(n, job, key, policyKeywords)
		if k := n.get("kubernetes"); k != nil {
			c.errs.add(k, job, "%s:kubernetes is not supported locally", key)
		}
		if r := n.get("refs"); r != nil {
			p.hasRefs = true
			p.refs = c.refs(r, job, key+":refs")
		}
		if v := n.get("variables"); v != nil {
			p.hasVars = true
			for _, s := range c.stringArray(v, job, key+":variables") {
				e, err := rules.Parse(s)
				if err != nil {
					c.errs.add(v, job, "%s:variables: invalid expression %q: %v", key, s, err)
					continue
				}
				p.vars = append(p.vars, e)
			}
		}
		if ch := n.get("changes"); ch != nil {
			p.hasChanges = true
			p.changes = c.pathsClause(ch, job, key+":changes", "compare_to")
		}
	default:
		c.errs.add(n, job, "%s must be an array of refs or a hash, not %s", key, n.describe())
	}
	return p
}

func (c *compilation) refs(n *node, job, key string) []string {
	refs := c.strings(n, job, key)
	for _, r := range refs {
		if isRegexpLiteral(r) {
			if _, err := compileRefRegexp(r); err != nil {
				c.errs.add(n, job, "%s: invalid regular expression %s: %v", key, r, err)
			}
		}
	}
	return refs
}

// satisfied reports whether every part of the policy holds (each part holds when any of
// its items does), which is GitLab's reading of only: and except:.
func (c *compilation) satisfied(p *policy, look rules.Lookup, vars []Var) bool {
	if p.hasRefs && !c.anyRef(p.refs, look) {
		return false
	}
	if p.hasVars {
		ok := false
		for _, e := range p.vars {
			ok = ok || e.Eval(look)
		}
		if !ok {
			return false
		}
	}
	if p.hasChanges && !c.changed(p.changes, vars) {
		return false
	}
	return true
}

// anySatisfied is except:'s reading: it excludes when any part holds.
func (c *compilation) anySatisfied(p *policy, look rules.Lookup, vars []Var) bool {
	if p.hasRefs && c.anyRef(p.refs, look) {
		return true
	}
	for _, e := range p.vars {
		if e.Eval(look) {
			return true
		}
	}
	return p.hasChanges && c.changed(p.changes, vars)
}

func (c *compilation) anyRef(refs []string, look rules.Lookup) bool {
	val := func(k string) string { v, _ := look(k); return v }
	tag := val("CI_COMMIT_TAG") != ""
	source := val("CI_PIPELINE_SOURCE")
	ref := val("CI_COMMIT_REF_NAME")
	for _, pattern := range refs {
		if at := strings.LastIndex(pattern, "@"); at > 0 && !isRegexpLiteral(pattern) {
			if pattern[at+1:] != val("CI_PROJECT_PATH") {
				continue
			}
			pattern = pattern[:at]
		}
		switch {
		case pattern == "branches":
			if !tag && source != "merge_request_event" {
				return true
			}
		case pattern == "tags":
			if tag {
				return true
			}
		case refKeywordSources[pattern] != "":
			if source == refKeywordSources[pattern] {
				return true
			}
		case isRegexpLiteral(pattern):
			if re, err := compileRefRegexp(pattern); err == nil && re.MatchString(ref) {
				return true
			}
		case pattern == ref:
			return true
		}
	}
	return false
}

func isRegexpLiteral(s string) bool {
	return len(s) >= 2 && s[0] == '/' && strings.LastIndexByte(s, '/') > 0
}

var refRegexp = regexp.MustCompile(`^/(.*)/([ismU]*)$`)

func compileRefRegexp(s string) (*regexp.Regexp, error) {
	m := refRegexp.FindStringSubmatch(s)
	if m == nil {
		return nil, fmt.Errorf("flags must be among i, s, m, U")
	}
	src := m[1]
	if m[2] != "" {
		src = "(?" + m[2] + ")" + src
	}
	return regexp.Compile(src)
}
