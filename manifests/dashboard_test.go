package manifests_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
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
	Targets    []struct{ Expr, LegendFormat string }
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

// Values of the instance and runner labels in exportedSeries.
const (
	exportedInstance = "kuberunner:9252"
	exportedRunner   = "r"
)

// exportedSeries returns every series a scrape of metrics.New's registry shows, as
// promtool's input series notation: histograms as _bucket (one per bound), _sum and
// _count, each with the instance and job labels Prometheus adds. Every metric gets a
// value first, a request status that is not 2xx too: a vector without one is not in a
// scrape at all.
func exportedSeries(t *testing.T) []string {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, "test", "test")
	m.SetConcurrent(1)
	m.SetLimit(exportedRunner, 1)
	m.JobStarted(exportedRunner)
	m.JobFinished(exportedRunner, jobspec.ScriptFailure, time.Second)
	m.ObserveAPIRequest(exportedRunner, metrics.EndpointRequestJob, "POST", 201, time.Second)
	m.ObserveAPIRequest(exportedRunner, metrics.EndpointUpdateJob, "PUT", 500, time.Second)
	m.Error("warn")
	m.TraceBytes(exportedRunner, 1)
	m.ObserveJobStart(exportedRunner, time.Second)
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var out []string
	for _, mf := range families {
		name := mf.GetName()
		for _, s := range mf.GetMetric() {
			labels := []string{fmt.Sprintf("instance=%q", exportedInstance), `job="kuberunner"`}
			for _, l := range s.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			series := func(suffix string, extra ...string) {
				out = append(out, name+suffix+"{"+strings.Join(append(slices.Clone(labels), extra...), ",")+"}")
			}
			switch mf.GetType() {
			case dto.MetricType_HISTOGRAM:
				for _, b := range s.GetHistogram().GetBucket() {
					series("_bucket", fmt.Sprintf("le=%q", strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64)))
				}
				series("_bucket", `le="+Inf"`)
				series("_sum")
				series("_count")
			case dto.MetricType_SUMMARY:
				for _, q := range s.GetSummary().GetQuantile() {
					series("", fmt.Sprintf("quantile=%q", strconv.FormatFloat(q.GetQuantile(), 'g', -1, 64)))
				}
				series("_sum")
				series("_count")
			default:
				series("")
			}
		}
	}
	return out
}

// keyMetrics are what operators look at first; each must be on the dashboard.
var keyMetrics = []string{
	"gitlab_runner_jobs", "gitlab_runner_jobs_total", "gitlab_runner_failed_jobs_total",
	"gitlab_runner_job_duration_seconds_bucket", "gitlab_runner_concurrent", "gitlab_runner_limit",
	"gitlab_runner_api_request_statuses_total", "gitlab_runner_api_request_duration_seconds_bucket",
	"gitlab_runner_errors_total", "kuberunner_job_start_seconds_bucket",
	"kuberunner_trace_bytes_sent_total", "process_resident_memory_bytes",
}

// TestDashboardShowsKeyMetrics looks for the names as whole words; whether they exist,
// and the queries parse, is TestDashboardQueriesPassPrometheus's job.
func TestDashboardShowsKeyMetrics(t *testing.T) {
	var exprs []string
	for _, p := range allPanels(readDashboard(t).Panels) {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	all := strings.Join(exprs, "\n")
	for _, name := range keyMetrics {
		if !regexp.MustCompile(`(^|[^\w:])` + name + `($|[^\w:])`).MatchString(all) {
			t.Errorf("no panel shows %s", name)
		}
	}
}

var labelValuesQuery = regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

// TestDashboardVariables fixes the variables' names, which links and saved views use;
// their queries are checked with the panels' (dashboardQueries).
func TestDashboardVariables(t *testing.T) {
	var names []string
	for _, v := range readDashboard(t).Templating.List {
		names = append(names, v.Name)
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
