package metrics

import (
	"errors"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/kuberunner/kuberunner/jobspec"
)

// Bucket bounds, in seconds. Job and API buckets are gitlab-runner's, so histograms
// from both runners can be compared side by side.
var (
	jobDurationBuckets = []float64{30, 60, 300, 600, 1800, 3600, 7200, 10800, 18000, 36000}
	apiDurationBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
	// Job start runs from about 2 s (a cached image) to minutes (a large image pull).
	jobStartBuckets = []float64{0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300}
)

// stateRunning is the only value of gitlab_runner_jobs' state label kuberunner reports:
// a job is running from JobStarted to JobFinished.
const stateRunning = "running"

// Metrics records what the runner does. Its methods are safe for concurrent use. The
// runner argument is always the runner's name from the configuration, never its token.
type Metrics struct {
	concurrent  prometheus.Gauge
	limit       *prometheus.GaugeVec
	jobs        *prometheus.GaugeVec
	jobsTotal   *prometheus.CounterVec
	jobDuration *prometheus.HistogramVec
	failedJobs  *prometheus.CounterVec
	apiStatuses *prometheus.CounterVec
	apiDuration *prometheus.HistogramVec
	errors      *prometheus.CounterVec
	traceBytes  *prometheus.CounterVec
	jobStart    *prometheus.HistogramVec
	versionInfo prometheus.Gauge
}

// New creates the metrics and registers them, with the Go and process collectors, on
// reg. It panics if reg already holds any of kuberunner's own metrics: that is a wiring
// mistake, found the first time the program starts.
func New(reg prometheus.Registerer, version, revision string) *Metrics {
	m := &Metrics{
		concurrent: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gitlab_runner_concurrent",
			Help: "The current value of concurrent setting",
		}),
		limit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gitlab_runner_limit",
			Help: "The current value of limit setting",
		}, []string{"runner"}),
		jobs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gitlab_runner_jobs",
			Help: "The current number of running builds.",
		}, []string{"runner", "state"}),
		jobsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitlab_runner_jobs_total",
			Help: "Total number of handled jobs",
		}, []string{"runner"}),
		jobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gitlab_runner_job_duration_seconds",
			Help:    "Histogram of job durations",
			Buckets: jobDurationBuckets,
		}, []string{"runner"}),
		failedJobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitlab_runner_failed_jobs_total",
			Help: "Total number of failed jobs",
		}, []string{"runner", "failure_reason"}),
		apiStatuses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitlab_runner_api_request_statuses_total",
			Help: "The total number of api requests, partitioned by runner, endpoint, status and method.",
		}, []string{"runner", "endpoint", "status", "method"}),
		apiDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gitlab_runner_api_request_duration_seconds",
			Help:    "Latency histogram of API requests, partitioned by runner, endpoint, status_class and method.",
			Buckets: apiDurationBuckets,
		}, []string{"runner", "endpoint", "status_class", "method"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitlab_runner_errors_total",
			Help: "The number of caught errors.",
		}, []string{"level"}),
		traceBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kuberunner_trace_bytes_sent_total",
			Help: "Job log bytes the coordinator accepted.",
		}, []string{"runner"}),
		jobStart: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kuberunner_job_start_seconds",
			Help:    "Time from receiving a job to its first log byte.",
			Buckets: jobStartBuckets,
		}, []string{"runner"}),
		versionInfo: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gitlab_runner_version_info",
			Help: "A metric with a constant '1' value labeled by different build stats fields.",
			ConstLabels: prometheus.Labels{
				"name":         "kuberunner",
				"version":      version,
				"revision":     revision,
				"go_version":   runtime.Version(),
				"os":           runtime.GOOS,
				"architecture": runtime.GOARCH,
			},
		}),
	}
	m.versionInfo.Set(1)
	// Present from the first scrape, so rate() and alerts see a 0 rather than no series.
	for level := range errorLevels {
		m.errors.WithLabelValues(level)
	}
	reg.MustRegister(m.concurrent, m.limit, m.jobs, m.jobsTotal, m.jobDuration, m.failedJobs,
		m.apiStatuses, m.apiDuration, m.errors, m.traceBytes, m.jobStart, m.versionInfo)
	// The Go and process collectors are standard; a registry that has them already is fine.
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
			panic(err)
		}
	}
	return m
}

// SetConcurrent records the global concurrent setting.
func (m *Metrics) SetConcurrent(n int) { m.concurrent.Set(float64(n)) }

// SetLimit records a runner's limit setting (0: only the global cap applies).
func (m *Metrics) SetLimit(runner string, n int) { m.limit.WithLabelValues(runner).Set(float64(n)) }

// JobStarted counts a job the runner accepted. Every JobStarted must be followed by
// one JobFinished for the same runner.
func (m *Metrics) JobStarted(runner string) {
	m.jobsTotal.WithLabelValues(runner).Inc()
	m.jobs.WithLabelValues(runner, stateRunning).Inc()
}

// JobFinished records a job's end after duration d. reason is empty for a success;
// reasons GitLab does not define are counted as unknown_failure.
func (m *Metrics) JobFinished(runner string, reason jobspec.FailureReason, d time.Duration) {
	m.jobs.WithLabelValues(runner, stateRunning).Dec()
	m.jobDuration.WithLabelValues(runner).Observe(d.Seconds())
	if reason != jobspec.FailureNone {
		m.failedJobs.WithLabelValues(runner, failureReasonLabel(reason)).Inc()
	}
}

// ObserveAPIRequest records one call to the coordination API. endpoint is one of the
// Endpoint constants or the route template ("jobs/:id"); status is the HTTP status code,
// or 0 when no response came back.
func (m *Metrics) ObserveAPIRequest(runner, endpoint, method string, status int, d time.Duration) {
	md := methodLabel(method)
	ep := endpointLabel(endpoint, md)
	m.apiStatuses.WithLabelValues(runner, ep, statusLabel(status), md).Inc()
	m.apiDuration.WithLabelValues(runner, ep, statusClass(status), md).Observe(d.Seconds())
}

// Error counts a logged error or warning (level as slog names it, "warn" or "error").
func (m *Metrics) Error(level string) { m.errors.WithLabelValues(levelLabel(level)).Inc() }

// TraceBytes counts n bytes of job log the coordinator accepted for runner.
func (m *Metrics) TraceBytes(runner string, n int) {
	if n > 0 {
		m.traceBytes.WithLabelValues(runner).Add(float64(n))
	}
}

// ObserveJobStart records the time from receiving a job to its first log byte: the
// delay a user waits before seeing anything, which the design targets.
func (m *Metrics) ObserveJobStart(runner string, d time.Duration) {
	m.jobStart.WithLabelValues(runner).Observe(d.Seconds())
}
