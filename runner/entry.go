package runner

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/gitlab"
)

// entry is one runner of the configuration with its own coordinator and executor. Its name
// is its identity across reloads (see Reload): a reload changes an entry in place, or
// removes it, and a removed entry lives on, polling no more, until its last job is reported.
type entry struct {
	name string
	url  string // the GitLab it was built for; a reload does not change it
	// cfg holds the settings in force; pollers and new jobs read it each time. Its token
	// fields are those it was loaded with: see token.
	cfg   atomic.Pointer[config.Runner]
	coord GitLab
	exec  Executor
	// token is swapped whole when the token is rotated. Pollers load it for every request,
	// so the first request after a rotation carries the new token; running jobs talk to
	// GitLab with their own job tokens and never notice.
	token    atomic.Pointer[runnerToken]
	systemID string
	slots    *slots // its own limit: size 0 when it has none

	// Guarded by Manager.mu.
	pollers    []context.CancelFunc // one per poller; the last ones stop first
	stopRotate context.CancelFunc   // nil: no rotation running
	removed    bool                 // gone from the configuration: takes no new job
	closed     bool                 // its executor is closed: adopts nothing more
	adopting   bool                 // its executor was asked to adopt, once for its life
	busy       int                  // its pollers and jobs; a removed entry closes at 0
}

// conf is the runner's configuration in force. Never modify it: Reload swaps it whole.
func (e *entry) conf() *config.Runner { return e.cfg.Load() }

// runnerToken is a runner's authentication token with the dates rotation goes by.
type runnerToken struct {
	creds    gitlab.RunnerCredentials
	obtained time.Time // zero: not known (a config written before token_obtained_at)
	expires  time.Time // zero: never
}

// creds are the runner credentials for the next request.
func (e *entry) creds() gitlab.RunnerCredentials { return e.token.Load().creds }

// tokenOf reads rc's token and its dates; the config validated them, a Config built in
// code may not have been.
func tokenOf(rc config.Runner, systemID string) (*runnerToken, error) {
	t := &runnerToken{creds: gitlab.RunnerCredentials{URL: rc.URL, Token: rc.Token, SystemID: systemID}}
	for _, d := range [...]struct {
		key, value string
		dst        *time.Time
	}{{"token_expires_at", rc.TokenExpiresAt, &t.expires}, {"token_obtained_at", rc.TokenObtainedAt, &t.obtained}} {
		if d.value == "" {
			continue
		}
		at, err := time.Parse(time.RFC3339, d.value)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not an RFC 3339 time", d.key, d.value)
		}
		*d.dst = at
	}
	return t, nil
}

// newEntry builds rc's coordinator and executor; it starts nothing.
func (r *Manager) newEntry(rc config.Runner) (*entry, error) {
	tok, err := tokenOf(rc, r.systemID)
	if err != nil {
		return nil, err
	}
	coord, err := r.newCoord(rc)
	if err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	exec, err := r.newExec(rc)
	if err != nil {
		return nil, fmt.Errorf("executor: %w", err)
	}
	e := &entry{name: rc.Name, url: rc.URL, coord: coord, exec: exec, systemID: r.systemID, slots: newSlots(rc.Limit)}
	e.cfg.Store(&rc)
	e.token.Store(tok)
	r.metrics.SetLimit(rc.Name, rc.Limit)
	return e, nil
}

// startEntry sets e to work once Run has begun: adoption, pollers, token rotation.
// Called with r.mu held.
func (r *Manager) startEntry(e *entry) {
	if r.pollCtx == nil || r.stopping.Load() {
		return
	}
	// Only a runner that leaves jobs to their pods adopts them: local pipelines, which
	// wait, have a coordinator of their own that no earlier job belongs to.
	if a, ok := e.exec.(Adopter); ok && r.settings.Load().leaveJobs && !e.adopting {
		e.adopting = true
		a.Adopt(r.adopter(e))
	}
	r.setPollers(e, e.conf().RequestConcurrency)
	r.restartRotation(e)
}

// setPollers starts or stops pollers until e has n (at least one). A poller stopped
// mid-request drops its long poll, as at shutdown. Called with r.mu held.
func (r *Manager) setPollers(e *entry, n int) {
	if r.pollCtx == nil || r.stopping.Load() {
		return
	}
	n = max(n, 1)
	for len(e.pollers) > n {
		last := len(e.pollers) - 1
		e.pollers[last]()
		e.pollers = e.pollers[:last]
	}
	for i := len(e.pollers); i < n; i++ {
		ctx, cancel := context.WithCancel(r.pollCtx)
		e.pollers = append(e.pollers, cancel)
		e.busy++
		r.pollers.Go(func() {
			defer r.idle(e)
			r.poll(ctx, e, i)
		})
	}
}

// restartRotation (re)starts e's token rotation, for the token in force. Called with r.mu held.
func (r *Manager) restartRotation(e *entry) {
	if e.stopRotate != nil {
		e.stopRotate()
	}
	ctx, cancel := context.WithCancel(r.pollCtx)
	e.stopRotate = cancel
	r.rotators.Go(func() { r.rotate(ctx, e, r.startedAt) })
}

// retire stops e's pollers and rotation: it takes no new job. Called with r.mu held.
func (r *Manager) retire(e *entry) {
	e.removed = true
	for _, stop := range e.pollers {
		stop()
	}
	e.pollers = nil
	if e.stopRotate != nil {
		e.stopRotate()
		e.stopRotate = nil
	}
}

// hold counts a job of e, so a removed e keeps its executor until the job is over.
func (r *Manager) hold(e *entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.busy++
}

// idle ends what hold (or a poller) counted; the last of a removed entry closes it.
func (r *Manager) idle(e *entry) {
	r.mu.Lock()
	e.busy--
	last := e.busy == 0 && e.removed && !e.closed
	if last {
		r.dropLocked(e)
	}
	r.mu.Unlock()
	if last {
		closeExecutor(e)
	}
}

// dropLocked forgets a removed entry whose executor is to be closed now.
func (r *Manager) dropLocked(e *entry) {
	e.closed = true
	for i, x := range r.entries {
		if x == e {
			r.entries = append(r.entries[:i:i], r.entries[i+1:]...)
			break
		}
	}
}
