package config

import "time"

// Defaults of the settings a file leaves out.
const (
	DefaultConcurrent    = 1
	DefaultCheckInterval = 3 * time.Second
	// DefaultReloadInterval is as often as gitlab-runner looks at its config.toml.
	DefaultReloadInterval  = 3 * time.Second
	DefaultShutdownTimeout = 30 * time.Second
	// ShutdownLeave and ShutdownWait are the values of shutdown_jobs.
	ShutdownLeave             = "leave"
	ShutdownWait              = "wait"
	DefaultLogLevel           = "info"
	DefaultLogFormat          = "text"
	DefaultRequestConcurrency = 1
	// DefaultOutputLimit is in KiB, gitlab-runner's default of 4 MiB.
	DefaultOutputLimit = 4096
	// gitlab-runner's defaults for unhealthy_requests_limit and unhealthy_interval.
	DefaultUnhealthyRequestsLimit = 3
	DefaultUnhealthyInterval      = time.Hour
	DefaultExecutor               = "kubernetes"
	// DefaultNamespace is where job pods go; Kubernetes.SetDefaults applies it.
	DefaultNamespace = "default"
)

// Default returns the configuration of an empty file: global defaults and no runners.
func Default() *Config {
	return &Config{
		Concurrent:      DefaultConcurrent,
		CheckInterval:   Duration(DefaultCheckInterval),
		ReloadInterval:  Duration(DefaultReloadInterval),
		ShutdownTimeout: Duration(DefaultShutdownTimeout),
		ShutdownJobs:    ShutdownLeave,
		LogLevel:        DefaultLogLevel,
		LogFormat:       DefaultLogFormat,
	}
}

// DefaultRunner returns a runner with every default set, for `register` to fill in
// name, URL and token.
func DefaultRunner() Runner {
	r := Runner{
		RequestConcurrency: DefaultRequestConcurrency,
		OutputLimit:        DefaultOutputLimit,
		Executor:           DefaultExecutor,

		UnhealthyRequestsLimit: DefaultUnhealthyRequestsLimit,
		UnhealthyInterval:      Duration(DefaultUnhealthyInterval),
	}
	r.Kubernetes.SetDefaults()
	return r
}

// applyDefaults fills the keys the file did not set. It goes by presence rather than by
// zero value so that an explicit `request_concurrency: 0` is reported by Validate instead
// of being silently replaced.
func (c *Config) applyDefaults(set func(path string) bool) {
	def := Default()
	if !set("concurrent") {
		c.Concurrent = def.Concurrent
	}
	if !set("check_interval") {
		c.CheckInterval = def.CheckInterval
	}
	if !set("reload_interval") {
		c.ReloadInterval = def.ReloadInterval
	}
	if !set("shutdown_timeout") {
		c.ShutdownTimeout = def.ShutdownTimeout
	}
	if !set("shutdown_jobs") {
		c.ShutdownJobs = def.ShutdownJobs
	}
	if !set("log_level") {
		c.LogLevel = def.LogLevel
	}
	if !set("log_format") {
		c.LogFormat = def.LogFormat
	}
	dr := DefaultRunner()
	for i := range c.Runners {
		r, p := &c.Runners[i], runnerPath(i)
		if !set(p + ".request_concurrency") {
			r.RequestConcurrency = dr.RequestConcurrency
		}
		if !set(p + ".output_limit") {
			r.OutputLimit = dr.OutputLimit
		}
		if !set(p + ".executor") {
			r.Executor = dr.Executor
		}
		if !set(p + ".unhealthy_requests_limit") {
			r.UnhealthyRequestsLimit = dr.UnhealthyRequestsLimit
		}
		if !set(p + ".unhealthy_interval") {
			r.UnhealthyInterval = dr.UnhealthyInterval
		}
		// The executor owns its section's defaults (namespace "default" among them).
		r.Kubernetes.SetDefaults()
	}
}
