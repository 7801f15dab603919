package config

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"time"
)

// Watcher reads a configuration file again when its content changes, for `run` to reload.
//
// It polls instead of watching with inotify (fsnotify): Kubernetes updates a Secret volume
// by swapping the directory's ..data symlink, so the file a watch was put on is never
// written; a watch would have to sit on the directory and be renewed after every swap. A
// hash of a small file every few seconds works alike on every filesystem and mount, takes
// a write that changes nothing for no change, and is how gitlab-runner notices edits of
// its config.toml.
type Watcher struct {
	path string
	// last is the hash of what the file gave when last read: its content, or the error.
	last [sha256.Size]byte
}

// NewWatcher returns a Watcher of the file at path; nothing is read yet.
func NewWatcher(path string) *Watcher { return &Watcher{path: path} }

// Load reads and parses the file as Load does, and remembers what it read: Watch reports
// only what changes after.
func (w *Watcher) Load() (*Config, error) {
	c, _, err := w.read()
	return c, err
}

// read loads the file and reports whether what it gave differs from the read before.
func (w *Watcher) read() (*Config, bool, error) {
	data, err := os.ReadFile(w.path)
	var sum [sha256.Size]byte
	if err != nil {
		sum = sha256.Sum256([]byte("error: " + err.Error()))
	} else {
		sum = sha256.Sum256(data)
	}
	changed := sum != w.last
	w.last = sum
	if err != nil {
		return nil, changed, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(w.path, data)
	return c, changed, err
}

// Watch calls apply with the file parsed again, or with why it cannot be (the *Error list
// Parse returns), each time its content has changed since it was last read, checked every
// interval (0: never), and each time reload receives, changed or not. A file that stays
// broken is reported once, not at every check. The interval follows the reload_interval of
// the last file that loaded. Watch returns when ctx ends; apply runs on its goroutine, and
// Load must not be called meanwhile.
func (w *Watcher) Watch(ctx context.Context, interval time.Duration, reload <-chan struct{}, apply func(*Config, error)) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var tick <-chan time.Time
		timer.Stop()
		if interval > 0 {
			timer.Reset(interval)
			tick = timer.C
		}
		forced := false
		select {
		case <-ctx.Done():
			return
		case <-tick:
		case <-reload:
			forced = true
		}
		c, changed, err := w.read()
		if !changed && !forced {
			continue
		}
		if err == nil {
			interval = c.ReloadInterval.Std()
		}
		apply(c, err)
	}
}
