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
	// ListenAddress serves /metrics and /health/*; empty disables the server.
	ListenAddress string `yaml:"listen_address"`
	// ShutdownTimeout is how long running jobs may go on after SIGTERM before they are cancelled.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	LogLevel        string   `yaml:"log_level"`  // debug | info | warn | error
	LogFormat       string   `yaml:"log_format"` // text | json
	Runners         []Runner `yaml:"runners"`
}

// Runner is one registration with a GitLab instance.
type Runner struct {
	Name           string `yaml:"name"`
	URL            string `yaml:"url"`
	ID             int64  `yaml:"id,omitempty"`
	Token          string `yaml:"token"`
	TokenExpiresAt string `yaml:"token_expires_at,omitempty"`
	// TLSCAFile is a PEM bundle trusted in addition to the system roots.
	TLSCAFile string `yaml:"tls_ca_file,omitempty"`
	// Limit caps this runner's concurrent jobs; 0 means only the global cap applies.
	Limit int `yaml:"limit"`
	// RequestConcurrency is how many job requests this runner keeps in flight.
	RequestConcurrency int `yaml:"request_concurrency"`
	// OutputLimit is the trace size cap in KiB, as gitlab-runner's output_limit.
	OutputLimit int `yaml:"output_limit"`
	// Executor names the executor; only "kubernetes" exists.
	Executor   string     `yaml:"executor"`
	Kubernetes Kubernetes `yaml:"kubernetes"`
}
