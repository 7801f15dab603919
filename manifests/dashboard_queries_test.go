package manifests_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The dashboard's queries are checked by the real Prometheus parser and engine, through
// promtool, rather than by a PromQL scanner of our own: github.com/prometheus/prometheus,
// where the parser lives, is too large a module to add for a test.
//
// Before that, Grafana's variables are replaced by values Prometheus accepts: the rate
// and range intervals by durations, $instance and $runner by a value a user could pick.
// A real value rather than Grafana's "All" (.*), because .* also matches a series without
// the label, and a query must show that its labels exist.

// dashQuery is one PromQL expression of the dashboard and where it stands.
type dashQuery struct {
	Where  string // panel "Jobs" or variable runner
	Expr   string
	Legend []string // the labels its legend shows ({{runner}})
}

var legendLabel = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)

// grafanaVar matches $name, ${name}, ${name:format} and [[name]].
var grafanaVar = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// intervalVars are Grafana's built-in variables the dashboard may use, as durations.
var intervalVars = map[string]string{"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}

// substitute replaces the variables in expr by vals, or by intervalVars; a variable in
// neither is an error, so that a new one gets a value here before its queries are checked.
func substitute(expr string, vals map[string]string) (string, error) {
	var unknown []string
	out := grafanaVar.ReplaceAllStringFunc(expr, func(m string) string {
		sub := grafanaVar.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		if v, ok := vals[name]; ok {
			return v
		}
		if v, ok := intervalVars[name]; ok {
			return v
		}
		unknown = append(unknown, m)
		return m
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("no value for the variables %v", unknown)
	}
	return out, nil
}

// dashboardQueries returns every panel's expressions and, for each label_values(selector,
// label) variable, the selector with label!="" added: it must select something, so that
// the label exists on the metric. vals give the variables their values.
func dashboardQueries(t *testing.T, vals map[string]string) []dashQuery {
	t.Helper()
	d := readDashboard(t)
	var out []dashQuery
	add := func(where, expr, legend string) {
		e, err := substitute(expr, vals)
		if err != nil {
			t.Errorf("%s: %v\n\t%s", where, err, expr)
			return
		}
		q := dashQuery{Where: where, Expr: e}
		for _, m := range legendLabel.FindAllStringSubmatch(legend, -1) {
			q.Legend = append(q.Legend, m[1])
		}
		out = append(out, q)
	}
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			add(fmt.Sprintf("panel %q", p.Title), tg.Expr, tg.LegendFormat)
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct{ Query string }
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Errorf("variable %s: query %s: %v", v.Name, v.Query, err)
			continue
		}
		m := labelValuesQuery.FindStringSubmatch(q.Query)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(selector, label)", v.Name, q.Query)
			continue
		}
		sel, label := m[1], m[2]
		if strings.HasSuffix(sel, "}") {
			sel = strings.TrimSuffix(sel, "}") + "," + label + `!=""}`
		} else {
			sel += "{" + label + `!=""}`
		}
		add("variable "+v.Name, sel, "")
	}
	if len(out) == 0 {
		t.Fatal("no PromQL expression found in the dashboard")
	}
	return out
}

// maskingQuery finds what lets a query return series although one of its metrics is not
// exported: "a or b" shows a's data when b does not exist, absent() and vector() make data
// of nothing. A query that returns series from only the exported ones then uses only those.
var maskingQuery = regexp.MustCompile(`\b(or|unless)\b|\b(absent|absent_over_time|vector)\s*\(`)

func TestDashboardQueriesPassPrometheus(t *testing.T) {
	promtool := needTool(t, "promtool")
	series := exportedSeries(t)
	queries := dashboardQueries(t, map[string]string{"instance": exportedInstance, "runner": exportedRunner})
	for _, q := range queries {
		if m := maskingQuery.FindString(q.Expr); m != "" {
			t.Errorf("%s: %q could hide a metric that is not exported from this check\n\t%s", q.Where, m, q.Expr)
		}
	}
	dir := t.TempDir()
	rules, tests := filepath.Join(dir, "dashboard_rules.yaml"), filepath.Join(dir, "dashboard_test.yaml")
	writeJSON(t, rules, queryRules(queries))
	writeJSON(t, tests, queryTests(series, len(queries)))

	// check rules parses every expression and names each one it refuses.
	if out, err := runTool(t, promtool, "check", "rules", rules); err != nil {
		reportQueries(t, out, queries, "does not parse")
		return
	}
	// Each query must return series when Prometheus has scraped exactly what metrics/
	// exports, and nothing else: so every metric it uses is one metrics/ registers.
	if out, err := runTool(t, promtool, "test", "rules", tests); err != nil {
		reportQueries(t, out, queries, "returns no series from what metrics/ exports")
	}
}

// queryRules records query i as dashboard_query_i, where promtool's errors name it, and
// alerts with DashboardQueryEmpty_i when it returns nothing.
func queryRules(queries []dashQuery) any {
	var rules []map[string]string
	for i, q := range queries {
		rules = append(rules,
			map[string]string{"record": fmt.Sprintf("dashboard_query_%d", i), "expr": q.Expr},
			map[string]string{"alert": fmt.Sprintf("DashboardQueryEmpty_%d", i), "expr": fmt.Sprintf("absent(dashboard_query_%d)", i)})
	}
	return map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}}
}

// queryTests is a promtool test file: every series counts up once a minute, and no
// DashboardQueryEmpty alert may fire once rates have ten minutes of data.
func queryTests(series []string, n int) any {
	var input []map[string]string
	for _, s := range series {
		input = append(input, map[string]string{"series": s, "values": "1+1x10"})
	}
	var alerts []map[string]string
	for i := range n {
		alerts = append(alerts, map[string]string{"eval_time": "10m", "alertname": fmt.Sprintf("DashboardQueryEmpty_%d", i)})
	}
	return map[string]any{
		"rule_files":          []string{"dashboard_rules.yaml"},
		"evaluation_interval": "1m",
		"tests":               []any{map[string]any{"interval": "1m", "input_series": input, "alert_rule_test": alerts}},
	}
}

var queryRef = regexp.MustCompile(`(?:dashboard_query_|DashboardQueryEmpty_)(\d+)`)

// reportQueries maps promtool's complaints back to the panels: one error per query it
// names, or its whole output when it names none.
func reportQueries(t *testing.T, out string, queries []dashQuery, what string) {
	t.Helper()
	named := map[int]bool{}
	for _, line := range strings.Split(out, "\n") {
		m := queryRef.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		i, _ := strconv.Atoi(m[1])
		if i >= len(queries) || named[i] {
			continue
		}
		named[i] = true
		// The position in the generated file helps nobody; the parser's message does.
		detail := strings.TrimSpace(line)
		if _, msg, ok := strings.Cut(detail, "could not parse expression: "); ok {
			detail = msg
		}
		t.Errorf("%s %s (%s)\n\t%s", queries[i].Where, what, detail, queries[i].Expr)
	}
	if len(named) == 0 {
		t.Errorf("promtool failed without naming a query:\n%s", out)
	}
}

// writeJSON writes v as JSON, which is YAML too, so no quoting of PromQL can go wrong.
func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
