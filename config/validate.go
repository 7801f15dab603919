package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"text", "json"}
)

// Validate reports every problem in c at once (errors.Join of *Error), each naming its
// key path and, for a Config read from a file, the file and line.
func (c *Config) Validate() error {
	s := c.src
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, s.at(path, fmt.Sprintf(format, args...)))
	}

	if c.Concurrent < 1 {
		add("concurrent", "must be at least 1, got %d", c.Concurrent)
	}
	if c.CheckInterval <= 0 {
		add("check_interval", "must be positive, got %s", c.CheckInterval.Std())
	}
	if c.ReloadInterval < 0 {
		add("reload_interval", "must not be negative (0 turns reloading off), got %s", c.ReloadInterval.Std())
	}
	if c.ShutdownTimeout < 0 {
		add("shutdown_timeout", "must not be negative, got %s", c.ShutdownTimeout.Std())
	}
	if c.ShutdownJobs != "" && c.ShutdownJobs != ShutdownLeave && c.ShutdownJobs != ShutdownWait {
		add("shutdown_jobs", "%q is not one of %s, %s", c.ShutdownJobs, ShutdownLeave, ShutdownWait)
	}
	if !slices.Contains(logLevels, c.LogLevel) {
		add("log_level", "%q is not one of %s", c.LogLevel, strings.Join(logLevels, ", "))
	}
	if !slices.Contains(logFormats, c.LogFormat) {
		add("log_format", "%q is not one of %s", c.LogFormat, strings.Join(logFormats, ", "))
	}
	if c.ListenAddress != "" {
		if msg := checkListenAddress(c.ListenAddress); msg != "" {
			add("listen_address", "%s", msg)
		}
	}

	names := map[string]int{}
	for i := range c.Runners {
		r, p := &c.Runners[i], runnerPath(i)
		switch first, dup := names[r.Name]; {
		case r.Name == "":
			add(p+".name", "required")
		case dup:
			add(p+".name", "%q is already the name of runners[%d]", r.Name, first)
		default:
			names[r.Name] = i
		}
		if msg := checkURL(r.URL); msg != "" {
			add(p+".url", "%s", msg)
		}
		if r.Token == "" {
			add(p+".token", "required")
		}
		if r.ID < 0 {
			add(p+".id", "must not be negative, got %d", r.ID)
		}
		// No check that one comes before the other: expires_at is GitLab's clock and
		// obtained_at ours, and a skew between them must not make a rotated token unsavable.
		for _, t := range [...]struct{ key, value string }{
			{"token_expires_at", r.TokenExpiresAt}, {"token_obtained_at", r.TokenObtainedAt},
		} {
			if t.value == "" {
				continue
			}
			if _, err := time.Parse(time.RFC3339, t.value); err != nil {
				add(p+"."+t.key, "%q is not an RFC 3339 time", t.value)
			}
		}
		if r.Limit < 0 {
			add(p+".limit", "must not be negative, got %d", r.Limit)
		}
		if r.RequestConcurrency < 1 {
			add(p+".request_concurrency", "must be at least 1, got %d", r.RequestConcurrency)
		}
		if r.OutputLimit < 0 {
			add(p+".output_limit", "must not be negative, got %d", r.OutputLimit)
		}
		if r.UnhealthyRequestsLimit < 0 {
			add(p+".unhealthy_requests_limit", "must not be negative, got %d", r.UnhealthyRequestsLimit)
		}
		if r.UnhealthyInterval < 0 {
			add(p+".unhealthy_interval", "must not be negative, got %s", r.UnhealthyInterval.Std())
		}
		if r.Executor != DefaultExecutor {
			add(p+".executor", "%q is not supported; the only executor is %q", r.Executor, DefaultExecutor)
		}
		// The executor owns the kubernetes section and its checks; its errors carry keys
		// relative to the section, placed here under the full path.
		if err := r.Kubernetes.Validate(); err != nil {
			errs = append(errs, s.rebase(p+".kubernetes", err)...)
		}
	}
	// In file order, so the list reads top to bottom beside the file; placeless errors
	// (a Config built in code) keep the order they were found in.
	slices.SortStableFunc(errs, func(a, b error) int { return lineOf(a) - lineOf(b) })
	return errors.Join(errs...)
}

func lineOf(err error) int {
	if e, ok := err.(*Error); ok {
		return e.Line
	}
	return 0
}

// checkURL returns what is wrong with a runner URL, or "".
func checkURL(raw string) string {
	if raw == "" {
		return "required"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("%q is not an absolute http(s) URL", redactURL(raw))
	}
	if strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/api/v4") {
		return fmt.Sprintf("%q ends in /api/v4; give GitLab's base URL, kuberunner adds the API path", u.Redacted())
	}
	if u.User != nil {
		return fmt.Sprintf("%q carries credentials; the runner authenticates with its token", u.Redacted())
	}
	return ""
}

// redactURL hides a password in a URL that may not parse; a user who typed
// https://user:secret@host should not see the secret echoed into logs.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	if at := strings.LastIndex(raw, "@"); at >= 0 {
		if scheme := strings.Index(raw, "://"); scheme >= 0 && scheme < at {
			return raw[:scheme+3] + "xxxxx" + raw[at:]
		}
		return "xxxxx" + raw[at:]
	}
	return raw
}

func checkListenAddress(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		if n, perr := strconv.Atoi(port); perr == nil && n >= 0 && n <= 65535 {
			return ""
		}
	}
	return fmt.Sprintf("%q is not host:port (for example \":9252\" or \"127.0.0.1:9252\")", addr)
}
