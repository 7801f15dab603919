// Package config owns kuberunner's configuration file: plain structs with defaults,
// strict YAML loading (unknown keys refused, errors name file, line and key), validation,
// and atomic writes for `register`.
package config

// DefaultPath is where `kuberunner run` looks for its configuration unless --config says otherwise.
const DefaultPath = "/etc/kuberunner/config.yaml"

// Config is the whole file: global settings and the runners this process serves.
type Config struct {
	// Concurrent caps jobs running at once across all runners.
	Concurrent int `yaml:"concurrent"`
	// CheckInterval is the pause between job requests of one poller when the coordinator
	// answered at once with no job (long polling makes most waits server-side).
	CheckInterval Duration `yaml:"check_interval"`
	// ReloadInterval is how often `run` reads this file again to pick up changes (SIGHUP
	// reloads at once); 0 turns the polling off.
	ReloadInterval Duration `yaml:"reload_interval"`
	// ListenAddress serves /metrics and /health/*; empty disables the server.
	ListenAddress string `yaml:"listen_address"`
	// ShutdownTimeout is how long running jobs may go on after SIGTERM before they are
	// cancelled, when ShutdownJobs is "wait".
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// ShutdownJobs is what SIGTERM does to running jobs: "leave" them to their pods, which
	// ship their traces and report on their own while a runner that starts later adopts
	// them (the default: a rolling upgrade loses no job), or "wait" for them up to
	// ShutdownTimeout and then abort them, as gitlab-runner does. Empty in a Config built
	// in code means "wait".
	ShutdownJobs string   `yaml:"shutdown_jobs"`
	LogLevel     string   `yaml:"log_level"`  // debug | info | warn | error
	LogFormat    string   `yaml:"log_format"` // text | json
	Runners      []Runner `yaml:"runners"`

	// src remembers where each key was read from so Validate can name file and line;
	// nil for a Config built in code. Lines are those of the file as read: after runners
	// are removed or reordered in code, a line may point at a neighbour.
	src *source
}

// Runner is one registration with a GitLab instance.
type Runner struct {
	// Name identifies the runner in logs, metrics and `kuberunner unregister`; unique per file.
	Name string `yaml:"name"`
	// URL is GitLab's base URL (https://gitlab.example.com), without /api/v4.
	URL   string `yaml:"url"`
	ID    int64  `yaml:"id,omitempty"`
	Token string `yaml:"token"`
	// TokenExpiresAt and TokenObtainedAt (RFC 3339) date the token, as gitlab-runner's
	// keys of the same names: a token that expires is rotated at 3/4 of its lifetime and
	// the new one written back here. Empty TokenExpiresAt: the token never expires.
	TokenExpiresAt  string `yaml:"token_expires_at,omitempty"`
	TokenObtainedAt string `yaml:"token_obtained_at,omitempty"`
	// TLSCAFile is a PEM bundle trusted in addition to the system roots.
	TLSCAFile string `yaml:"tls_ca_file,omitempty"`
	// Limit caps this runner's concurrent jobs; 0 means only the global cap applies.
	Limit int `yaml:"limit"`
	// RequestConcurrency is how many job requests this runner keeps in flight.
	RequestConcurrency int `yaml:"request_concurrency"`
	// OutputLimit is the trace size cap in KiB, as gitlab-runner's output_limit.
	OutputLimit int `yaml:"output_limit"`
	// UnhealthyRequestsLimit is how many job requests in a row may be refused (401/403: an
	// invalid or revoked token) before a poller pauses for UnhealthyInterval, as
	// gitlab-runner's keys of the same names; before that it retries with backoff. Other
	// failures (5xx, GitLab unreachable) only back off: an outage never pauses polling.
	UnhealthyRequestsLimit int      `yaml:"unhealthy_requests_limit"`
	UnhealthyInterval      Duration `yaml:"unhealthy_interval"`
	// Executor names the executor; only "kubernetes" exists.
	Executor   string     `yaml:"executor"`
	Kubernetes Kubernetes `yaml:"kubernetes"`
}

// Runner returns the runner called name. The pointer aliases c.Runners, so changes
// through it (a rotated token, say) are kept by a later Save.
func (c *Config) Runner(name string) (*Runner, bool) {
	for i := range c.Runners {
		if c.Runners[i].Name == name {
			return &c.Runners[i], true
		}
	}
	return nil, false
}
