package runner

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/metrics"
)

// Options wire a Manager. Config, GitLab, Executor and Metrics are required.
type Options struct {
	Config   *config.Config
	GitLab   func(config.Runner) (GitLab, error) // one per runner entry
	Executor func(config.Runner) (Executor, error)
	Metrics  *metrics.Metrics
	Logger   *slog.Logger
	SystemID string
	TraceDir string // temp dir for trace buffers
	// Version is printed in each job's trace ("Running with kuberunner <Version>").
	Version string
	// Timing holds the protocol's intervals and retry bounds; zero fields take
	// gitlab-runner's defaults. Tests shrink them.
	Timing Timing
	// SaveToken persists a runner's token and its dates (zero: unknown or never); `run`
	// writes them to the configuration file. It is called after each rotation, and before
	// each with the token in use: a rotated token that cannot be saved would be lost at the
	// next start, so a failing SaveToken stops the rotation before GitLab revokes the token
	// in use. Nil: tokens are never rotated. Calls for different runners may be concurrent.
	SaveToken func(runner, token string, obtained, expires time.Time) error
}

// Timing are the intervals and bounds of the coordination protocol. Zero means the default.
type Timing struct {
	// TraceInterval, when set, replaces the server's X-GitLab-Trace-Update-Interval
	// (whole seconds on the wire, too coarse for tests). Default: 3 s until the server says.
	TraceInterval time.Duration
	// KeepAlive is how long the trace may be silent before a keep-alive PUT state=running. 30 s.
	KeepAlive time.Duration
	// Backoff paces retries after transient failures (job requests, trace patches,
	// state updates). gitlab.DefaultBackoff: 1 s doubling up to 1 min, ±20 % jitter.
	Backoff gitlab.Backoff
	// ReportTries bounds the final trace flush, as gitlab-runner's 10 tries for the final
	// update; the final PUT tries at least this often, and for as long as the job's timeout.
	ReportTries int
}

const (
	defaultTraceInterval   = 3 * time.Second
	defaultKeepAlive       = 30 * time.Second
	defaultReportTries     = 10
	defaultCheckInterval   = 3 * time.Second
	defaultShutdownTimeout = 30 * time.Second
	defaultOutputLimitKiB  = 4096
)

func (t Timing) withDefaults() Timing {
	if t.KeepAlive <= 0 {
		t.KeepAlive = defaultKeepAlive
	}
	if t.Backoff == (gitlab.Backoff{}) {
		t.Backoff = gitlab.DefaultBackoff
	}
	if t.ReportTries <= 0 {
		t.ReportTries = defaultReportTries
	}
	return t
}

func (o Options) validate() error {
	var errs []error
	if o.Config == nil {
		errs = append(errs, errors.New("no config"))
	} else if len(o.Config.Runners) == 0 {
		errs = append(errs, errors.New("config has no runners"))
	}
	if o.GitLab == nil {
		errs = append(errs, errors.New("no GitLab client factory"))
	}
	if o.Executor == nil {
		errs = append(errs, errors.New("no executor factory"))
	}
	if o.Metrics == nil {
		errs = append(errs, errors.New("no metrics"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("runner options: %w", err)
	}
	return nil
}

// settings are the global config values with gitlab-runner's defaults applied.
type settings struct {
	concurrent      int
	checkInterval   time.Duration
	shutdownTimeout time.Duration
	leaveJobs       bool // SIGTERM leaves running jobs to their pods
}

func settingsOf(c *config.Config) settings {
	s := settings{
		concurrent:      c.Concurrent,
		checkInterval:   c.CheckInterval.Std(),
		shutdownTimeout: c.ShutdownTimeout.Std(),
		leaveJobs:       c.ShutdownJobs == config.ShutdownLeave,
	}
	if s.concurrent <= 0 {
		s.concurrent = 1
	}
	if s.checkInterval <= 0 {
		s.checkInterval = defaultCheckInterval
	}
	if s.shutdownTimeout <= 0 {
		s.shutdownTimeout = defaultShutdownTimeout
	}
	return s
}
