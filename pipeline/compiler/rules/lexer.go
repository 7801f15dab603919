package rules

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// maxTokens is GitLab's limit; longer expressions are refused as they are there.
const maxTokens = 100

type tokenKind int

const (
	tokParenOpen tokenKind = iota
	tokParenClose
	tokVariable
	tokString
	tokPattern
	tokNull
	tokBool
	tokEquals
	tokMatches
	tokNotEquals
	tokNotMatches
	tokAnd
	tokOr
	tokNot
)

type token struct {
	kind tokenKind
	text string         // variable name, string contents, or the matched operator
	re   *regexp.Regexp // for tokPattern
}

// Operator precedence as GitLab numbers it: lower binds tighter.
func (t token) precedence() int {
	switch t.kind {
	case tokNot:
		return 1
	case tokEquals, tokMatches, tokNotEquals, tokNotMatches:
		return 10
	case tokAnd:
		return 11
	case tokOr:
		return 12
	case tokParenClose:
		return 900
	case tokParenOpen:
		return 1000
	}
	return 0
}

func (t token) isValue() bool {
	switch t.kind {
	case tokVariable, tokString, tokPattern, tokNull, tokBool:
		return true
	}
	return false
}

// The lexemes are tried in GitLab's order at each position; the first that matches wins.
// The patterns are GitLab's, anchored at the scan position.
var (
	reVariable = regexp.MustCompile(`^\$(\w+)`)
	reString   = regexp.MustCompile(`^(?:"(.*?)"|'(.*?)')`)
	rePattern  = regexp.MustCompile(`^/(?:[^/]|\\/)+[^\\]/[ismU]*`)
	reBool     = regexp.MustCompile(`^(?:true|false)\b`)
	// rubyRegexp is GitLab's UntrustedRegexp::RubySyntax: /source/flags.
	rubyRegexp = regexp.MustCompile(`^/(.*)/([ismU]*)$`)
)

var operators = []struct {
	text string
	kind tokenKind
}{
	{"==", tokEquals}, {"=~", tokMatches}, {"!=", tokNotEquals}, {"!~", tokNotMatches},
	{"&&", tokAnd}, {"||", tokOr}, {"!", tokNot},
}

// errInvalidRegexp is returned for a /pattern/ that RE2 (GitLab's engine) refuses.
var errInvalidRegexp = errors.New("invalid regular expression")

func lex(s string) ([]token, error) {
	var toks []token
	pos := 0
	for range maxTokens {
		for pos < len(s) && isSpace(s[pos]) {
			pos++
		}
		if pos == len(s) {
			return toks, nil
		}
		tok, n, err := scan(s[pos:])
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("unknown lexeme at %q", abbreviate(s[pos:]))
		}
		toks = append(toks, tok)
		pos += n
	}
	for pos < len(s) && isSpace(s[pos]) {
		pos++
	}
	if pos == len(s) {
		return toks, nil
	}
	return nil, fmt.Errorf("too many tokens (maximum is %d)", maxTokens)
}

// scan returns the token at the start of rest and its length, 0 when nothing matches.
func scan(rest string) (token, int, error) {
	switch rest[0] {
	case '(':
		return token{kind: tokParenOpen, text: "("}, 1, nil
	case ')':
		return token{kind: tokParenClose, text: ")"}, 1, nil
	}
	if m := reVariable.FindStringSubmatch(rest); m != nil {
		return token{kind: tokVariable, text: m[1]}, len(m[0]), nil
	}
	if m := reString.FindStringSubmatchIndex(rest); m != nil {
		text := ""
		if m[2] >= 0 {
			text = rest[m[2]:m[3]]
		} else {
			text = rest[m[4]:m[5]]
		}
		return token{kind: tokString, text: text}, m[1], nil
	}
	if m := rePattern.FindString(rest); m != "" {
		re, err := compileRubyRegexp(strings.ReplaceAll(m, `\/`, "/"))
		if err != nil {
			return token{}, 0, fmt.Errorf("%w %s", errInvalidRegexp, m)
		}
		return token{kind: tokPattern, text: m, re: re}, len(m), nil
	}
	if strings.HasPrefix(rest, "null") {
		return token{kind: tokNull, text: "null"}, 4, nil
	}
	if m := reBool.FindString(rest); m != "" {
		return token{kind: tokBool, text: m}, len(m), nil
	}
	for _, op := range operators {
		if strings.HasPrefix(rest, op.text) {
			return token{kind: op.kind, text: op.text}, len(op.text), nil
		}
	}
	return token{}, 0, nil
}

// compileRubyRegexp turns "/source/flags" into an RE2 regexp the way GitLab does:
// the flags become an inline group in front of the source.
func compileRubyRegexp(s string) (*regexp.Regexp, error) {
	m := rubyRegexp.FindStringSubmatch(s)
	if m == nil {
		return nil, errInvalidRegexp
	}
	src := m[1]
	if m[2] != "" {
		src = "(?" + m[2] + ")" + src
	}
	return regexp.Compile(src)
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func abbreviate(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}
