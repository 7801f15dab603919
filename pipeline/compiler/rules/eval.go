package rules

import (
	"regexp"
	"strings"
	"unicode"
)

type valueKind int

const (
	kindNil valueKind = iota
	kindString
	kindBool
	kindRegexp
)

// value is what a sub-expression evaluates to, with Ruby's dynamic typing.
type value struct {
	kind valueKind
	s    string
	b    bool
	re   *regexp.Regexp
}

// Lookup returns the value of a variable and whether it is defined.
type Lookup func(name string) (string, bool)

// Eval evaluates the expression against the variables lookup knows about.
func (e *Expr) Eval(lookup Lookup) bool {
	return e.root.eval(lookup).present()
}

func (n *node) eval(lookup Lookup) value {
	switch n.tok.kind {
	case tokVariable:
		if v, ok := lookup(n.tok.text); ok {
			return value{kind: kindString, s: v}
		}
		return value{}
	case tokString:
		return value{kind: kindString, s: n.tok.text}
	case tokNull:
		return value{}
	case tokBool:
		return value{kind: kindBool, b: n.tok.text == "true"}
	case tokPattern:
		return value{kind: kindRegexp, re: n.tok.re}
	case tokNot:
		return boolValue(!n.left.eval(lookup).present())
	case tokEquals:
		return boolValue(equal(n.left.eval(lookup), n.right.eval(lookup)))
	case tokNotEquals:
		return boolValue(!equal(n.left.eval(lookup), n.right.eval(lookup)))
	case tokMatches:
		return boolValue(matches(n.left.eval(lookup), n.right.eval(lookup), false))
	case tokNotMatches:
		return boolValue(matches(n.left.eval(lookup), n.right.eval(lookup), true))
	case tokAnd:
		// Ruby's &&: the left operand if it is nil or false, else the right one.
		if l := n.left.eval(lookup); !l.truthy() {
			return l
		}
		return n.right.eval(lookup)
	case tokOr:
		if l := n.left.eval(lookup); l.truthy() {
			return l
		}
		return n.right.eval(lookup)
	}
	return value{}
}

func boolValue(b bool) value { return value{kind: kindBool, b: b} }

// truthy is Ruby truthiness: everything but nil and false.
func (v value) truthy() bool {
	return v.kind != kindNil && (v.kind != kindBool || v.b)
}

// present is ActiveSupport's present?: truthy and, for a string, not only whitespace.
func (v value) present() bool {
	if v.kind == kindString {
		return strings.TrimFunc(v.s, unicode.IsSpace) != ""
	}
	return v.truthy()
}

func equal(a, b value) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case kindString:
		return a.s == b.s
	case kindBool:
		return a.b == b.b
	case kindRegexp:
		return a.re.String() == b.re.String()
	}
	return true
}

// matches is GitLab's Matches/NotMatches: a missing right side never matches; a string
// on the right that reads as /regexp/ is compiled (so a pattern can live in a variable);
// any other string is searched for the left side as a substring, which is what Ruby's
// String#scan does there.
func matches(text, pattern value, negate bool) bool {
	if !pattern.truthy() {
		return negate
	}
	subject := text.String()
	var found bool
	switch pattern.kind {
	case kindRegexp:
		found = pattern.re.MatchString(subject)
	case kindString:
		if re, err := compileRubyRegexp(strings.ReplaceAll(pattern.s, `\/`, "/")); err == nil {
			found = re.MatchString(subject)
		} else {
			found = strings.Contains(pattern.s, subject)
		}
	default:
		return false // GitLab raises here (true.scan); the rule does not match
	}
	return found != negate
}

// String is Ruby's to_s of the value.
func (v value) String() string {
	switch v.kind {
	case kindString:
		return v.s
	case kindBool:
		if v.b {
			return "true"
		}
		return "false"
	case kindRegexp:
		return v.re.String()
	}
	return ""
}
