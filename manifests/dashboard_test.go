package manifests_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/manifests"
	"github.com/kuberunner/kuberunner/metrics"
)

const dashboardFile = "grafana/kuberunner-dashboard.json"

type dashboard struct {
	SchemaVersion int
	UID           string
	Panels        []panel
	Templating    struct {
		List []struct {
			Name  string
			Type  string
			Query json.RawMessage
		}
	}
}

type panel struct {
	ID         int
	Type       string
	Title      string
	Datasource *struct{ Type, UID string }
	Targets    []struct{ Expr string }
	Panels     []panel // a collapsed row's panels
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := manifests.FS.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// exported returns the series names a scrape of metrics.New's registry shows (histograms
// as _bucket, _sum and _count), each with its label names. Every metric gets a value
// first: a vector without one is not in a scrape at all.
func exported(t *testing.T) map[string][]string {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, "test", "test")
	m.SetConcurrent(1)
	m.SetLimit("r", 1)
	m.JobStarted("r")
	m.JobFinished("r", jobspec.ScriptFailure, time.Second)
	m.ObserveAPIRequest("r", metrics.EndpointRequestJob, "POST", 201, time.Second)
	m.Error("warn")
	m.TraceBytes("r", 1)
	m.ObserveJobStart("r", time.Second)
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string][]string{}
	for _, mf := range families {
		var labels []string
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if !slices.Contains(labels, l.GetName()) {
					labels = append(labels, l.GetName())
				}
			}
		}
		name := mf.GetName()
		switch mf.GetType() {
		case dto.MetricType_HISTOGRAM:
			out[name+"_bucket"] = append(slices.Clone(labels), "le")
			out[name+"_sum"], out[name+"_count"] = labels, labels
		case dto.MetricType_SUMMARY:
			out[name] = append(slices.Clone(labels), "quantile")
			out[name+"_sum"], out[name+"_count"] = labels, labels
		default:
			out[name] = labels
		}
	}
	return out
}

// targetLabels are added by Prometheus to every series it scrapes.
var targetLabels = []string{"instance", "job"}

// checkExpr lists what is wrong with the names expr uses, given the known series and
// their labels.
func checkExpr(expr string, known map[string][]string) []string {
	refs, err := parsePromQL(expr)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	var available []string
	for _, s := range refs.Selectors {
		labels, ok := known[s.Metric]
		if !ok {
			problems = append(problems, fmt.Sprintf("metric %s is not exported", s.Metric))
			continue
		}
		available = append(available, labels...)
		for _, l := range s.Labels {
			if !slices.Contains(labels, l) && !slices.Contains(targetLabels, l) {
				problems = append(problems, fmt.Sprintf("%s has no label %q", s.Metric, l))
			}
		}
	}
	for _, l := range refs.Grouping {
		if !slices.Contains(available, l) && !slices.Contains(targetLabels, l) && len(available) > 0 {
			problems = append(problems, fmt.Sprintf("grouping by %q, a label none of its metrics has", l))
		}
	}
	return problems
}

func TestDashboardUsesExportedMetrics(t *testing.T) {
	known := exported(t)
	d := readDashboard(t)
	used := map[string]bool{}
	exprs := 0
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			exprs++
			for _, problem := range checkExpr(tg.Expr, known) {
				t.Errorf("panel %q: %s\n\t%s", p.Title, problem, tg.Expr)
			}
			if refs, err := parsePromQL(tg.Expr); err == nil {
				for _, s := range refs.Selectors {
					used[s.Metric] = true
				}
			}
		}
	}
	if exprs == 0 {
		t.Fatal("no PromQL expression found in the dashboard")
	}
	// What operators look at first must be on the dashboard.
	for _, name := range []string{
		"gitlab_runner_jobs", "gitlab_runner_jobs_total", "gitlab_runner_failed_jobs_total",
		"gitlab_runner_job_duration_seconds_bucket", "gitlab_runner_concurrent", "gitlab_runner_limit",
		"gitlab_runner_api_request_statuses_total", "gitlab_runner_api_request_duration_seconds_bucket",
		"gitlab_runner_errors_total", "kuberunner_job_start_seconds_bucket",
		"kuberunner_trace_bytes_sent_total", "process_resident_memory_bytes",
	} {
		if !used[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
}

var labelValuesQuery = regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

func TestDashboardVariables(t *testing.T) {
	known := exported(t)
	d := readDashboard(t)
	var names []string
	for _, v := range d.Templating.List {
		names = append(names, v.Name)
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
		for _, problem := range checkExpr(m[1]+" by ("+m[2]+")", known) {
			t.Errorf("variable %s: %s", v.Name, strings.Replace(problem, "grouping by", "label_values of", 1))
		}
	}
	if want := []string{"datasource", "instance", "runner"}; !slices.Equal(want, names) {
		t.Errorf("variables %v, want %v", names, want)
	}
}

func TestDashboardShape(t *testing.T) {
	d := readDashboard(t)
	if d.SchemaVersion < 36 || d.SchemaVersion > 41 {
		t.Errorf("schemaVersion %d: want Grafana 9 to 11 (36 to 41)", d.SchemaVersion)
	}
	if d.UID == "" {
		t.Error("no uid: provisioning would make a new dashboard on every import")
	}
	ids := map[int]string{}
	for _, p := range allPanels(d.Panels) {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if len(p.Targets) > 0 && (p.Datasource == nil || p.Datasource.UID != "${datasource}") {
			t.Errorf("panel %q: datasource %+v, want the ${datasource} variable", p.Title, p.Datasource)
		}
	}
}
