package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/kuberunner/kuberunner/config"
)

// configFile is the configuration file as `run` last loaded it, without the command line's
// overrides, which must not end up in the file. A reload replaces it; tokenSaver writes it back.
type configFile struct {
	path string
	mu   sync.Mutex
	c    *config.Config
}

// replace makes c, a newer version of the file that loaded, the one tokenSaver writes back,
// so that a rotation does not undo an edit that was reloaded.
func (f *configFile) replace(c *config.Config) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.c = c
}

// tokenSaver returns runner.Options.SaveToken for `run`: it writes a runner's rotated token
// and its dates back to the configuration file. The runner is updated in place
// (config.Runner aliases the file as loaded) and the whole file saved atomically, so it
// stays loadable whatever happens. Not read from disk again: a file edited since it was
// loaded may not load, and the token GitLab just issued must not be lost to that. Calls are
// serialised: the runners of a file share it.
func (f *configFile) tokenSaver() func(runner, token string, obtained, expires time.Time) error {
	return func(runner, token string, obtained, expires time.Time) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		r, ok := f.c.Runner(runner)
		if !ok {
			return fmt.Errorf("save token: no runner %q in %s", runner, f.path)
		}
		// Kept in memory even if the save fails: the token is GitLab's current one, and
		// the next save, of this runner or another, writes it.
		r.Token = token
		r.TokenObtainedAt = rfc3339(obtained)
		r.TokenExpiresAt = rfc3339(expires)
		return config.Save(f.path, f.c)
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
