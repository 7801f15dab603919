package rules

import (
	"strings"
	"testing"
)

func lookupIn(vars map[string]string) Lookup {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

func TestEval(t *testing.T) {
	vars := map[string]string{
		"BRANCH":  "main",
		"TAG":     "v1.2.3",
		"EMPTY":   "",
		"SPACE":   "  ",
		"PATTERN": "/^ma/",
		"SLASHED": `/^feature\/x$/`,
		"WORD":    "feature/x",
		"UPPER":   "MAIN",
	}
	tests := []struct {
		expr string
		want bool
	}{
		{`$BRANCH`, true},
		{`$MISSING`, false},
		{`$EMPTY`, false},
		{`$SPACE`, false}, // blank strings are not present, as in Rails
		{`$BRANCH == "main"`, true},
		{`$BRANCH == 'main'`, true},
		{`"main" == $BRANCH`, true},
		{`$BRANCH != "main"`, false},
		{`$MISSING == null`, true},
		{`$EMPTY == null`, false},
		{`$EMPTY == ""`, true},
		{`$MISSING != null`, false},
		{`$TAG =~ /^v\d+\.\d+/`, true},
		{`$TAG !~ /^v\d+\.\d+/`, false},
		{`$UPPER =~ /main/`, false},
		{`$UPPER =~ /main/i`, true},
		{`$WORD =~ /^feature\/x$/`, true},
		{`$BRANCH =~ $PATTERN`, true},  // a pattern held in a variable
		{`$WORD =~ $SLASHED`, true},    // escaped slashes inside a variable pattern
		{`$BRANCH =~ $MISSING`, false}, // no pattern: no match
		{`$BRANCH !~ $MISSING`, true},  // no pattern: not matched
		{`$BRANCH =~ "xmainx"`, true},  // a plain string: substring search, as Ruby's scan
		{`$MISSING =~ /^$/`, true},     // nil is matched as ""
		{`$BRANCH == "main" && $TAG`, true},
		{`$BRANCH == "dev" && $TAG`, false},
		{`$BRANCH == "dev" || $TAG`, true},
		{`$MISSING || $EMPTY`, false},
		{`$EMPTY || $BRANCH`, false}, // Ruby: "" is truthy, so || returns "", which is blank
		{`$EMPTY && $BRANCH`, true},  // ... and && goes on to the right side
		{`$BRANCH == "dev" && $TAG || $BRANCH == "main"`, true},
		{`$BRANCH == "main" || $TAG && $MISSING`, true}, // && binds tighter than ||
		{`($BRANCH == "main" || $TAG) && $MISSING`, false},
		{`(($BRANCH == "main"))`, true},
		{`!$MISSING`, true},
		{`!$BRANCH`, false},
		{`!$BRANCH == "main"`, false}, // (!$BRANCH) == "main"
		{`!$MISSING == true`, true},
		{`$BRANCH == "main" && !$MISSING`, true},
		{`null`, false},
		{`true`, true},
		{`"x"`, true},
		{`$BRANCH == "main"&&$TAG=="v1.2.3"`, true},
	}
	for _, tc := range tests {
		e, err := Parse(tc.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.expr, err)
			continue
		}
		if got := e.Eval(lookupIn(vars)); got != tc.want {
			t.Errorf("Eval(%q) = %v, want %v", tc.expr, got, tc.want)
		}
		if e.String() != tc.expr {
			t.Errorf("String() = %q, want %q", e.String(), tc.expr)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ expr, wantErr string }{
		{``, "empty expression"},
		{`   `, "empty expression"},
		{`$BRANCH ==`, "missing operand for =="},
		{`== "main"`, "missing operand for =="},
		{`$BRANCH = "main"`, "unknown lexeme"},
		{`$BRANCH == "main`, "unknown lexeme"},
		{`${BRANCH} == "main"`, "unknown lexeme"},
		{`$A $B`, "operands without an operator"},
		{`($A == "x"`, "unmatched parenthesis"},
		{`$A == "x")`, "unmatched parenthesis"},
		{`$A =~ /((/`, "invalid regular expression"},
		{`$A and $B`, "unknown lexeme"},
		{`!`, "missing operand for !"},
		{strings.Repeat(`$A && `, 60) + `$A`, "too many tokens"},
	}
	for _, tc := range tests {
		_, err := Parse(tc.expr)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want error containing %q", tc.expr, tc.wantErr)
			continue
		}
		if !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("Parse(%q) error = %q, want it to contain %q", tc.expr, err, tc.wantErr)
		}
	}
}

// GitLab's shunting-yard accepts operators in odd places as long as the operand count
// works out; so do we, so that nothing GitLab runs is refused here.
func TestParseAcceptsWhatGitLabAccepts(t *testing.T) {
	for _, expr := range []string{`$A $B ==`, `$A == $B == "true"`, `"false" == !$A`, `($A) == "x"`} {
		if _, err := Parse(expr); err != nil {
			t.Errorf("Parse(%q): %v", expr, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`$A == "x"`, `$A =~ /^v\d+/i && ($B || !$C)`, `(`, `)`, `/a/`, `'x' != null`,
		`$A =~ "/x/"`, `!!$A`, `$A $B ==`, `/[/`, `"unterminated`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			return
		}
		e.Eval(lookupIn(map[string]string{"A": "x", "B": "/x/", "C": ""}))
		e.Eval(lookupIn(nil))
	})
}
