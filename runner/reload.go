package runner

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/kuberunner/kuberunner/config"
)

// Reconfigurer is an executor that takes new settings for the jobs it starts from now on
// (executor.Kubernetes); running jobs keep theirs. An error leaves the settings in force.
// An executor that is not one keeps the settings it was built with until a restart.
type Reconfigurer interface {
	Reconfigure(rc config.Runner) error
}

// Reload applies c, a configuration that loaded and validated, to the Manager as it runs,
// and logs one line per change. A runner is the same runner when it has the same name:
// the name labels its pods, names its Lease and its metrics, and is unique in a file,
// while its token changes at every rotation. gitlab-runner goes by the token because its
// file has no such key. So:
//   - a name new to the Manager starts polling at once;
//   - a name gone stops polling; its running jobs finish and are reported, then its
//     executor is closed. Back under the same name before then, it polls again;
//   - a name kept keeps its jobs; concurrent, limit, request_concurrency, check_interval
//     and the other limits apply to what is taken next, Kubernetes settings to the jobs
//     started next (through Reconfigurer), and a token other than the one in use (not
//     the rotation's own write, which names the token in use) replaces it. url,
//     tls_ca_file, id and shutdown_jobs need a restart: logged, and ignored.
//
// The error lists what could not be applied (a new runner whose executor cannot be built,
// Kubernetes settings the executor refused); everything else is applied regardless.
func (r *Manager) Reload(c *config.Config) (changes int, err error) {
	var retired []*entry
	defer func() {
		for _, e := range retired {
			closeExecutor(e)
		}
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopping.Load() {
		return 0, errors.New("not reloaded: the runner is shutting down")
	}
	note := func(msg string, args ...any) {
		changes++
		r.log.Info("config reloaded: "+msg, args...)
	}
	r.reloadSettings(c, note)
	var errs []error
	named := map[string]bool{}
	for _, rc := range c.Runners {
		named[rc.Name] = true
		if e := r.entryLocked(rc.Name); e != nil {
			errs = append(errs, r.updateEntry(e, rc, note))
			continue
		}
		e, err := r.newEntry(rc)
		if err != nil {
			errs = append(errs, fmt.Errorf("runner %s not added: %w", rc.Name, err))
			continue
		}
		r.entries = append(r.entries, e)
		r.startEntry(e)
		note("runner added", "runner", rc.Name)
	}
	for _, e := range r.entries {
		if named[e.name] || e.removed {
			continue
		}
		r.retire(e)
		note("runner removed: it takes no new job; its running jobs finish", "runner", e.name, "running", e.busy)
		if e.busy == 0 {
			retired = append(retired, e)
		}
	}
	for _, e := range retired {
		r.dropLocked(e)
	}
	return changes, errors.Join(errs...)
}

// entryLocked is the entry called name, removed or not, nil if none.
func (r *Manager) entryLocked(name string) *entry {
	for _, e := range r.entries {
		if e.name == name {
			return e
		}
	}
	return nil
}

// reloadSettings applies the global settings. Called with r.mu held.
func (r *Manager) reloadSettings(c *config.Config, note func(string, ...any)) {
	old, st := r.settings.Load(), settingsOf(c)
	if st.leaveJobs != old.leaveJobs {
		// Which jobs the executors adopt was decided at start.
		r.log.Warn("config reloaded: shutdown_jobs needs a restart; the running value stays", "shutdown_jobs", c.ShutdownJobs)
		st.leaveJobs = old.leaveJobs
	}
	if st.concurrent != old.concurrent {
		r.global.resize(st.concurrent)
		r.metrics.SetConcurrent(st.concurrent)
		note("concurrent changed", "from", old.concurrent, "to", st.concurrent)
	}
	if st.checkInterval != old.checkInterval {
		note("check_interval changed", "from", old.checkInterval, "to", st.checkInterval)
	}
	if st.shutdownTimeout != old.shutdownTimeout {
		note("shutdown_timeout changed", "from", old.shutdownTimeout, "to", st.shutdownTimeout)
	}
	r.settings.Store(&st)
}

// updateEntry applies rc to the entry of the same name, bringing it back if it was
// removed. Called with r.mu held.
func (r *Manager) updateEntry(e *entry, rc config.Runner, note func(string, ...any)) error {
	old := e.conf()
	log := r.log.With("runner", e.name)
	for _, f := range [...]struct {
		key      string
		old, new any
	}{{"url", old.URL, rc.URL}, {"tls_ca_file", old.TLSCAFile, rc.TLSCAFile}, {"id", old.ID, rc.ID}} {
		if f.old != f.new {
			log.Warn("config reloaded: " + f.key + " needs a restart (or a new runner name); the running value stays")
		}
	}
	// The coordinator was built for these; the entry keeps them to its end.
	rc.URL, rc.TLSCAFile, rc.ID = old.URL, old.TLSCAFile, old.ID
	var err error
	if !reflect.DeepEqual(old.Kubernetes, rc.Kubernetes) {
		err = r.reconfigure(e, rc)
		if err == nil {
			note("kubernetes settings changed; jobs started from now on use them", "runner", e.name)
		} else {
			rc.Kubernetes = old.Kubernetes
		}
	}
	if tok := e.token.Load(); rc.Token != tok.creds.Token {
		fresh, terr := tokenOf(rc, e.systemID)
		if terr != nil {
			err = errors.Join(err, fmt.Errorf("runner %s: token not replaced: %w", e.name, terr))
		} else {
			e.token.Store(fresh)
			note("token replaced", "runner", e.name)
			if !e.removed && r.pollCtx != nil {
				r.restartRotation(e)
			}
		}
	}
	if rc.Limit != old.Limit {
		e.slots.resize(rc.Limit)
		r.metrics.SetLimit(e.name, rc.Limit)
		note("limit changed", "runner", e.name, "from", old.Limit, "to", rc.Limit)
	}
	r.noteLimits(e.name, old, &rc, note)
	e.cfg.Store(&rc)
	if e.removed {
		e.removed = false
		r.startEntry(e)
		note("runner added back; it was still finishing jobs", "runner", e.name)
	} else if rc.RequestConcurrency != old.RequestConcurrency {
		r.setPollers(e, rc.RequestConcurrency)
	}
	return err
}

// noteLimits logs the changes that take effect by being read: request_concurrency (the
// caller starts or stops pollers), output_limit and the unhealthy pause.
func (r *Manager) noteLimits(name string, old, rc *config.Runner, note func(string, ...any)) {
	for _, f := range [...]struct {
		key      string
		old, new any
	}{
		{"request_concurrency", old.RequestConcurrency, rc.RequestConcurrency},
		{"output_limit", old.OutputLimit, rc.OutputLimit},
		{"unhealthy_requests_limit", old.UnhealthyRequestsLimit, rc.UnhealthyRequestsLimit},
		{"unhealthy_interval", old.UnhealthyInterval.Std(), rc.UnhealthyInterval.Std()},
	} {
		if f.old != f.new {
			note(f.key+" changed", "runner", name, "from", f.old, "to", f.new)
		}
	}
}

// reconfigure hands new Kubernetes settings to e's executor for its next jobs.
func (r *Manager) reconfigure(e *entry, rc config.Runner) error {
	rec, ok := e.exec.(Reconfigurer)
	if !ok {
		return fmt.Errorf("runner %s: kubernetes settings not changed: its executor takes them only at a restart", e.name)
	}
	if err := rec.Reconfigure(rc); err != nil {
		return fmt.Errorf("kubernetes settings not changed: %w", err)
	}
	return nil
}
