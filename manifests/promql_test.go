package manifests_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The dashboard test needs the metric and label names a PromQL expression uses. The
// Prometheus parser lives in github.com/prometheus/prometheus, a module with over a
// hundred dependencies; this scanner knows just enough of the grammar for that, and
// refuses what it does not understand rather than guessing.

// selector is one vector selector: a metric name and the label names it matches on.
type selector struct {
	Metric string
	Labels []string
}

// promRefs is what an expression names: its selectors and the labels of its by, without,
// on and ignoring clauses.
type promRefs struct {
	Selectors []selector
	Grouping  []string
}

var (
	groupingWords = set("by", "without", "on", "ignoring", "group_left", "group_right")
	// Words that are never metric names where they stand: aggregations (which may come
	// before their by clause, so without a parenthesis next) and operators.
	keywords = set("sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk",
		"quantile", "count_values", "group", "limitk", "limit_ratio",
		"and", "or", "unless", "bool", "offset", "atan2")
)

func set(words ...string) map[string]bool {
	m := map[string]bool{}
	for _, w := range words {
		m[w] = true
	}
	return m
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdent(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

type scanner struct {
	s string
	i int
}

func (sc *scanner) skipSpace() {
	for sc.i < len(sc.s) && strings.ContainsRune(" \t\r\n", rune(sc.s[sc.i])) {
		sc.i++
	}
}

func (sc *scanner) ident() string {
	start := sc.i
	for sc.i < len(sc.s) && isIdent(sc.s[sc.i]) {
		sc.i++
	}
	return sc.s[start:sc.i]
}

// str skips a quoted string starting at sc.i.
func (sc *scanner) str() error {
	q := sc.s[sc.i]
	for sc.i++; sc.i < len(sc.s); sc.i++ {
		switch sc.s[sc.i] {
		case '\\':
			if q != '`' {
				sc.i++
			}
		case q:
			sc.i++
			return nil
		}
	}
	return fmt.Errorf("unterminated string")
}

// matchers reads {label op "value", ...} and returns the label names.
func (sc *scanner) matchers() ([]string, error) {
	var labels []string
	sc.i++ // {
	for {
		sc.skipSpace()
		if sc.i < len(sc.s) && sc.s[sc.i] == '}' {
			sc.i++
			return labels, nil
		}
		if sc.i >= len(sc.s) || !isIdentStart(sc.s[sc.i]) {
			return nil, fmt.Errorf("label name expected at offset %d", sc.i)
		}
		labels = append(labels, sc.ident())
		sc.skipSpace()
		op := ""
		for _, o := range []string{"=~", "!~", "!=", "="} {
			if strings.HasPrefix(sc.s[sc.i:], o) {
				op = o
				break
			}
		}
		if op == "" {
			return nil, fmt.Errorf("matcher operator expected at offset %d", sc.i)
		}
		sc.i += len(op)
		sc.skipSpace()
		if sc.i >= len(sc.s) || !strings.ContainsRune(`"'`+"`", rune(sc.s[sc.i])) {
			return nil, fmt.Errorf("quoted label value expected at offset %d", sc.i)
		}
		if err := sc.str(); err != nil {
			return nil, err
		}
		sc.skipSpace()
		if sc.i < len(sc.s) && sc.s[sc.i] == ',' {
			sc.i++
		}
	}
}

// labelList reads (a, b, c) after a grouping word.
func (sc *scanner) labelList() ([]string, error) {
	var labels []string
	sc.i++ // (
	for {
		sc.skipSpace()
		switch {
		case sc.i >= len(sc.s):
			return nil, fmt.Errorf("unclosed label list")
		case sc.s[sc.i] == ')':
			sc.i++
			return labels, nil
		case sc.s[sc.i] == ',':
			sc.i++
		case isIdentStart(sc.s[sc.i]):
			labels = append(labels, sc.ident())
		default:
			return nil, fmt.Errorf("label name expected at offset %d", sc.i)
		}
	}
}

func parsePromQL(expr string) (promRefs, error) {
	var refs promRefs
	sc := &scanner{s: expr}
	depth := 0
	afterMetric := false // the previous token was a metric name, so { starts its matchers
	for sc.skipSpace(); sc.i < len(sc.s); sc.skipSpace() {
		c := sc.s[sc.i]
		prevMetric := afterMetric
		afterMetric = false
		switch {
		case c == '"' || c == '\'' || c == '`':
			if err := sc.str(); err != nil {
				return refs, err
			}
		case c == '{':
			start := sc.i
			labels, err := sc.matchers()
			if err != nil {
				return refs, err
			}
			if !prevMetric {
				return refs, fmt.Errorf("selector without a metric name at offset %d", start)
			}
			refs.Selectors[len(refs.Selectors)-1].Labels = labels
		case c == '[':
			end := strings.IndexByte(sc.s[sc.i:], ']')
			if end < 0 {
				return refs, fmt.Errorf("unclosed range at offset %d", sc.i)
			}
			sc.i += end + 1
		case c == '(':
			depth++
			sc.i++
		case c == ')':
			if depth--; depth < 0 {
				return refs, fmt.Errorf("unbalanced ) at offset %d", sc.i)
			}
			sc.i++
		case c >= '0' && c <= '9' || c == '.':
			for sc.i < len(sc.s) && (isIdent(sc.s[sc.i]) || sc.s[sc.i] == '.') {
				sc.i++
			}
		case c == '$': // a Grafana variable outside a selector or range
			sc.i++
			sc.ident()
		case isIdentStart(c):
			word := sc.ident()
			sc.skipSpace()
			next := byte(0)
			if sc.i < len(sc.s) {
				next = sc.s[sc.i]
			}
			switch {
			case groupingWords[word]:
				if next == '(' {
					labels, err := sc.labelList()
					if err != nil {
						return refs, err
					}
					refs.Grouping = append(refs.Grouping, labels...)
				}
			case keywords[word], next == '(':
				// an aggregation, an operator or a function call
			default:
				refs.Selectors = append(refs.Selectors, selector{Metric: word})
				afterMetric = true
			}
		case strings.ContainsRune("+-*/%^<>=!,", rune(c)):
			sc.i++
		default:
			return refs, fmt.Errorf("unexpected %q at offset %d", c, sc.i)
		}
	}
	if depth != 0 {
		return refs, fmt.Errorf("%d unclosed (", depth)
	}
	return refs, nil
}

func TestParsePromQL(t *testing.T) {
	tests := []struct {
		expr string
		want promRefs
	}{
		{`up`, promRefs{Selectors: []selector{{Metric: "up"}}}},
		{
			`histogram_quantile(0.9, sum by (le, endpoint) (rate(api_seconds_bucket{runner=~"$runner",endpoint!="request_job"}[$__rate_interval])))`,
			promRefs{Selectors: []selector{{"api_seconds_bucket", []string{"runner", "endpoint"}}}, Grouping: []string{"le", "endpoint"}},
		},
		{
			`sum without (instance) (rate(a_total{x="}{,"}[5m] offset 1h)) / on (job) group_left (version) b_info > 0.5`,
			promRefs{Selectors: []selector{{"a_total", []string{"x"}}, {Metric: "b_info"}}, Grouping: []string{"instance", "job", "version"}},
		},
		{`max by (runner) (limit{a='1'} > 0) * 60`, promRefs{Selectors: []selector{{"limit", []string{"a"}}}, Grouping: []string{"runner"}}},
		{`rate(x[$__rate_interval]) * $factor`, promRefs{Selectors: []selector{{Metric: "x"}}}},
	}
	for _, tt := range tests {
		got, err := parsePromQL(tt.expr)
		if err != nil {
			t.Errorf("parsePromQL(%s): %v", tt.expr, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("parsePromQL(%s) (-want +got):\n%s", tt.expr, diff)
		}
	}
}

func TestParsePromQLRefuses(t *testing.T) {
	for _, expr := range []string{
		`sum(rate(x[5m])`,
		`rate(x[5m]))`,
		`x{a="b}`,
		`x{a}`,
		`{__name__="x"}`,
		`rate(x[5m)`,
		`x # comment`,
	} {
		if refs, err := parsePromQL(expr); err == nil {
			t.Errorf("parsePromQL(%s) = %+v, want an error", expr, refs)
		}
	}
}

func TestCheckExprFindsUnknownNames(t *testing.T) {
	known := map[string][]string{"gitlab_runner_jobs_total": {"runner"}, "gitlab_runner_job_duration_seconds_bucket": {"runner", "le"}}
	tests := []struct {
		expr string
		want []string
	}{
		{`sum by (runner) (rate(gitlab_runner_jobs_total{runner=~"$runner"}[5m]))`, nil},
		{`histogram_quantile(0.9, sum by (le) (rate(gitlab_runner_job_duration_seconds_bucket[5m])))`, nil},
		{`rate(gitlab_runner_jobs_totl[5m])`, []string{"metric gitlab_runner_jobs_totl is not exported"}},
		{`gitlab_runner_jobs_total{state="running"}`, []string{`gitlab_runner_jobs_total has no label "state"`}},
		{`sum by (failure_reason) (gitlab_runner_jobs_total)`, []string{`grouping by "failure_reason", a label none of its metrics has`}},
	}
	for _, tt := range tests {
		got := checkExpr(tt.expr, known)
		slices.Sort(got)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("checkExpr(%s) (-want +got):\n%s", tt.expr, diff)
		}
	}
}
