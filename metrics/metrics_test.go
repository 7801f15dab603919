package metrics_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/metrics"
)

// family is what a scraper sees of a metric family: its type and the label names its
// series carry.
type family struct {
	Type   string
	Labels []string
}

func TestScrapeExposesGitLabRunnerMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, "1.2.3", "abc123")
	m.SetConcurrent(4)
	m.SetLimit("a", 2)
	m.JobStarted("a")
	m.JobStarted("a")
	m.JobFinished("a", jobspec.ScriptFailure, 90*time.Second)
	m.JobStarted("b")
	m.JobFinished("b", jobspec.FailureNone, 10*time.Second)
	m.ObserveAPIRequest("a", metrics.EndpointRequestJob, "POST", http.StatusCreated, 50*time.Millisecond)
	m.ObserveAPIRequest("a", "jobs/:id/trace", "PATCH", http.StatusAccepted, 20*time.Millisecond) // the gitlab client names routes
	m.Error("warn")
	m.TraceBytes("a", 1024)
	m.TraceBytes("a", 512)
	m.ObserveJobStart("a", 1500*time.Millisecond)

	got := scrape(t, reg)

	wantFamilies := map[string]family{
		"gitlab_runner_concurrent":                   {"GAUGE", nil},
		"gitlab_runner_limit":                        {"GAUGE", []string{"runner"}},
		"gitlab_runner_jobs":                         {"GAUGE", []string{"runner", "state"}},
		"gitlab_runner_jobs_total":                   {"COUNTER", []string{"runner"}},
		"gitlab_runner_job_duration_seconds":         {"HISTOGRAM", []string{"runner"}},
		"gitlab_runner_failed_jobs_total":            {"COUNTER", []string{"failure_reason", "runner"}},
		"gitlab_runner_api_request_statuses_total":   {"COUNTER", []string{"endpoint", "method", "runner", "status"}},
		"gitlab_runner_api_request_duration_seconds": {"HISTOGRAM", []string{"endpoint", "method", "runner", "status_class"}},
		"gitlab_runner_errors_total":                 {"COUNTER", []string{"level"}},
		"gitlab_runner_version_info":                 {"GAUGE", []string{"architecture", "go_version", "name", "os", "revision", "version"}},
		"kuberunner_trace_bytes_sent_total":          {"COUNTER", []string{"runner"}},
		"kuberunner_job_start_seconds":               {"HISTOGRAM", []string{"runner"}},
		// The Go and process collectors, on the same registry.
		"go_goroutines":              {"GAUGE", nil},
		"process_start_time_seconds": {"GAUGE", nil},
	}
	gotFamilies := map[string]family{}
	for name := range wantFamilies {
		if mf, ok := got[name]; ok {
			gotFamilies[name] = describe(mf)
		}
	}
	if diff := cmp.Diff(wantFamilies, gotFamilies); diff != "" {
		t.Errorf("metric families (-want +got):\n%s", diff)
	}

	version := fmt.Sprintf(`gitlab_runner_version_info{architecture=%q,go_version=%q,name="kuberunner",os=%q,revision="abc123",version="1.2.3"}`,
		runtime.GOARCH, runtime.Version(), runtime.GOOS)
	wantValues := map[string]float64{
		`gitlab_runner_concurrent`:                                                                                              4,
		`gitlab_runner_limit{runner="a"}`:                                                                                       2,
		`gitlab_runner_jobs{runner="a",state="running"}`:                                                                        1,
		`gitlab_runner_jobs{runner="b",state="running"}`:                                                                        0,
		`gitlab_runner_jobs_total{runner="a"}`:                                                                                  2,
		`gitlab_runner_jobs_total{runner="b"}`:                                                                                  1,
		`gitlab_runner_job_duration_seconds_count{runner="a"}`:                                                                  1,
		`gitlab_runner_job_duration_seconds_sum{runner="a"}`:                                                                    90,
		`gitlab_runner_job_duration_seconds_count{runner="b"}`:                                                                  1,
		`gitlab_runner_job_duration_seconds_sum{runner="b"}`:                                                                    10,
		`gitlab_runner_failed_jobs_total{failure_reason="script_failure",runner="a"}`:                                           1,
		`gitlab_runner_api_request_statuses_total{endpoint="patch_trace",method="patch",runner="a",status="202"}`:               1,
		`gitlab_runner_api_request_statuses_total{endpoint="request_job",method="post",runner="a",status="201"}`:                1,
		`gitlab_runner_api_request_duration_seconds_count{endpoint="patch_trace",method="patch",runner="a",status_class="2xx"}`: 1,
		`gitlab_runner_api_request_duration_seconds_sum{endpoint="patch_trace",method="patch",runner="a",status_class="2xx"}`:   0.02,
		`gitlab_runner_api_request_duration_seconds_count{endpoint="request_job",method="post",runner="a",status_class="2xx"}`:  1,
		`gitlab_runner_api_request_duration_seconds_sum{endpoint="request_job",method="post",runner="a",status_class="2xx"}`:    0.05,
		`gitlab_runner_errors_total{level="warning"}`:                                                                           1,
		`gitlab_runner_errors_total{level="error"}`:                                                                             0,
		`gitlab_runner_errors_total{level="fatal"}`:                                                                             0,
		`gitlab_runner_errors_total{level="panic"}`:                                                                             0,
		`kuberunner_trace_bytes_sent_total{runner="a"}`:                                                                         1536,
		`kuberunner_job_start_seconds_count{runner="a"}`:                                                                        1,
		`kuberunner_job_start_seconds_sum{runner="a"}`:                                                                          1.5,
		version: 1,
	}
	if diff := cmp.Diff(wantValues, ownSeries(got)); diff != "" {
		t.Errorf("series (-want +got):\n%s", diff)
	}
}

func TestScrapeClampsCardinality(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, "dev", "unknown")
	m.JobStarted("a")
	m.JobFinished("a", jobspec.FailureReason("exit code 137 in job 4711"), time.Second)
	m.ObserveAPIRequest("a", "jobs/4711/trace", "BREW", 999, time.Second)
	m.ObserveAPIRequest("a", metrics.EndpointUpdateJob, "put", 0, time.Second)
	m.Error("info")

	got := ownSeries(scrape(t, reg))
	for _, want := range []string{
		`gitlab_runner_failed_jobs_total{failure_reason="unknown_failure",runner="a"}`,
		`gitlab_runner_api_request_statuses_total{endpoint="other",method="other",runner="a",status="0"}`,
		`gitlab_runner_api_request_duration_seconds_count{endpoint="other",method="other",runner="a",status_class="unknown"}`,
		`gitlab_runner_api_request_statuses_total{endpoint="update_job",method="put",runner="a",status="0"}`,
	} {
		if got[want] != 1 {
			t.Errorf("series %s = %v, want 1", want, got[want])
		}
	}
	if got[`gitlab_runner_errors_total{level="error"}`] != 1 {
		t.Errorf(`an unknown error level should count as level="error"; series: %v`, got)
	}
	for series := range got {
		if strings.Contains(series, "4711") || strings.Contains(series, "BREW") || strings.Contains(series, "999") {
			t.Errorf("unbounded label value leaked into %s", series)
		}
	}
}

func TestNewAcceptsRegistryWithStandardCollectors(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics.New(reg, "dev", "unknown") // must not panic
	if _, ok := scrape(t, reg)["gitlab_runner_concurrent"]; !ok {
		t.Error("gitlab_runner_concurrent missing")
	}
}

// scrape fetches /metrics from Handler over HTTP and parses the text exposition format.
func scrape(t *testing.T, g prometheus.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(metrics.Handler(g, nil))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics: Content-Type %q, want the text format", ct)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

func describe(mf *dto.MetricFamily) family {
	var labels []string
	for _, m := range mf.GetMetric() {
		for _, l := range m.GetLabel() {
			if !slices.Contains(labels, l.GetName()) {
				labels = append(labels, l.GetName())
			}
		}
	}
	sort.Strings(labels)
	return family{Type: mf.GetType().String(), Labels: labels}
}

// ownSeries flattens kuberunner's families (not go_*, process_*) to name{labels} ->
// value; a histogram gives its _count and _sum.
func ownSeries(families map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for name, mf := range families {
		if !strings.HasPrefix(name, "gitlab_runner_") && !strings.HasPrefix(name, "kuberunner_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			var pairs []string
			for _, l := range m.GetLabel() {
				pairs = append(pairs, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(pairs)
			labels := ""
			if len(pairs) > 0 {
				labels = "{" + strings.Join(pairs, ",") + "}"
			}
			switch mf.GetType() {
			case dto.MetricType_HISTOGRAM:
				out[name+"_count"+labels] = float64(m.GetHistogram().GetSampleCount())
				out[name+"_sum"+labels] = m.GetHistogram().GetSampleSum()
			case dto.MetricType_COUNTER:
				out[name+labels] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[name+labels] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}
