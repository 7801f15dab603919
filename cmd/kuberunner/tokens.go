package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/kuberunner/kuberunner/config"
)

// tokenSaver returns runner.Options.SaveToken for `run`: it writes a runner's rotated token
// and its dates back to the configuration file at path. file is the configuration as loaded,
// without the command line's overrides, which must not end up in the file; the runner is
// updated in place (config.Runner aliases file) and the whole file saved atomically, so it
// stays loadable whatever happens. Not reloaded from disk: a file edited since start may not
// load, and the token GitLab just issued must not be lost to that. Calls are serialised:
// the runners of a file share file and path.
func tokenSaver(path string, file *config.Config) func(runner, token string, obtained, expires time.Time) error {
	var mu sync.Mutex
	return func(runner, token string, obtained, expires time.Time) error {
		mu.Lock()
		defer mu.Unlock()
		r, ok := file.Runner(runner)
		if !ok {
			return fmt.Errorf("save token: no runner %q in %s", runner, path)
		}
		// Kept in memory even if the save fails: the token is GitLab's current one, and
		// the next save, of this runner or another, writes it.
		r.Token = token
		r.TokenObtainedAt = rfc3339(obtained)
		r.TokenExpiresAt = rfc3339(expires)
		return config.Save(path, file)
	}
}

// rfc3339 formats t as the configuration keeps times, "" for the zero time. Whole seconds:
// an expiry rounded down only brings the rotation forward.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// withOverrides returns the configuration `run` runs with: file with the command line's
// settings applied. file itself is left as read, for tokenSaver to write back.
func withOverrides(file *config.Config, listenAddress, logLevel, logFormat string) *config.Config {
	c := *file
	c.Runners = append([]config.Runner(nil), file.Runners...)
	overrideString(&c.ListenAddress, listenAddress)
	overrideString(&c.LogLevel, logLevel)
	overrideString(&c.LogFormat, logFormat)
	return &c
}
