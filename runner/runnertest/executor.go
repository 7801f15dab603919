// Package runnertest owns a scriptable fake of runner.Executor for tests of the job loop:
// it writes given chunks with given delays, returns a given result, honours cancellation
// (ctx and graceful) and records every run, including the most runs seen at once.
package runnertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/kuberunner/kuberunner/jobspec"
)

// Chunk is one write to the job's log, after Delay and, when Gate is set, once Gate is closed.
type Chunk struct {
	Delay time.Duration
	Gate  <-chan struct{}
	Data  string
}

// Script is what the fake does with one job.
type Script struct {
	Chunks []Chunk
	// Loop writes Chunks over and over until the job is cancelled: a job that never ends
	// on its own. With no chunks it just waits for the cancel.
	Loop bool
	// Result is returned when the chunks are written.
	Result jobspec.Result
	// Panic makes Run panic instead, as a broken executor would.
	Panic bool
}

// Results the fake returns when it is stopped early.
var (
	ErrGraceful = errors.New("job stopped by a graceful cancel")
	ErrAborted  = errors.New("job aborted")
)

// Run records one call of Executor.Run. Zero times mean "did not happen".
type Run struct {
	JobID     int64
	Started   time.Time
	Graceful  time.Time // the graceful channel was seen closed
	Aborted   time.Time // ctx was seen done
	Ended     time.Time
	Result    jobspec.Result
	Cause     error // context.Cause of ctx when aborted
	Cancelled bool  // graceful or aborted
}

// Executor is a fake runner.Executor. The zero value succeeds at once; set Script (or
// ScriptFor, to vary by job) before the first Run. Safe for concurrent use.
type Executor struct {
	Script    Script
	ScriptFor func(*jobspec.Job) Script

	mu         sync.Mutex
	runs       []Run
	running    int
	maxRunning int
	changed    chan struct{} // closed and replaced on every record change
}

// Run plays the job's script. It implements runner.Executor.
func (e *Executor) Run(ctx context.Context, job *jobspec.Job, log io.Writer, graceful <-chan struct{}) jobspec.Result {
	script := e.Script
	if e.ScriptFor != nil {
		script = e.ScriptFor(job)
	}
	i := e.start(job.ID)
	defer e.update(i, func(r *Run) { r.Ended = time.Now() }, -1)
	if script.Panic {
		panic("runnertest: scripted panic")
	}
	res := e.play(ctx, i, script, log, graceful)
	e.update(i, func(r *Run) { r.Result = res }, 0)
	return res
}

func (e *Executor) play(ctx context.Context, i int, s Script, log io.Writer, graceful <-chan struct{}) jobspec.Result {
	for {
		for _, c := range s.Chunks {
			if res, stopped := e.wait(ctx, i, c.Delay, nil, graceful); stopped {
				return res
			}
			if c.Gate != nil {
				if res, stopped := e.wait(ctx, i, -1, c.Gate, graceful); stopped {
					return res
				}
			}
			if _, err := io.WriteString(log, c.Data); err != nil {
				return jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: fmt.Errorf("write log: %w", err)}
			}
		}
		if !s.Loop {
			return s.Result
		}
		if len(s.Chunks) == 0 {
			res, _ := e.wait(ctx, i, -1, nil, graceful)
			return res
		}
	}
}

// wait sleeps d (forever if negative), or until gate closes, unless the job is cancelled first.
func (e *Executor) wait(ctx context.Context, i int, d time.Duration, gate, graceful <-chan struct{}) (jobspec.Result, bool) {
	var timeout <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
		return jobspec.Result{}, false
	case <-gate:
		return jobspec.Result{}, false
	case <-graceful:
		e.update(i, func(r *Run) { r.Graceful, r.Cancelled = time.Now(), true }, 0)
		return jobspec.Result{Reason: jobspec.ScriptFailure, ExitCode: 143, Err: ErrGraceful}, true
	case <-ctx.Done():
		cause := context.Cause(ctx)
		e.update(i, func(r *Run) { r.Aborted, r.Cause, r.Cancelled = time.Now(), cause, true }, 0)
		if errors.Is(cause, jobspec.ErrLeftToPod) {
			// As the Kubernetes executor does: the pod goes on, nothing is reported.
			return jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: cause}, true
		}
		return jobspec.Result{Reason: jobspec.ScriptFailure, ExitCode: 137, Err: ErrAborted}, true
	}
}

func (e *Executor) start(id int64) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.runs = append(e.runs, Run{JobID: id, Started: time.Now()})
	e.running++
	e.maxRunning = max(e.maxRunning, e.running)
	e.notifyLocked()
	return len(e.runs) - 1
}

func (e *Executor) update(i int, f func(*Run), runningDelta int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f(&e.runs[i])
	e.running += runningDelta
	e.notifyLocked()
}

func (e *Executor) notifyLocked() {
	if e.changed != nil {
		close(e.changed)
	}
	e.changed = make(chan struct{})
}

// Runs returns a copy of every run so far, in start order.
func (e *Executor) Runs() []Run {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.runs)
}

// MaxConcurrent is the most runs that were in progress at once.
func (e *Executor) MaxConcurrent() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.maxRunning
}

// WaitFor waits until cond holds for the runs so far, or ctx ends.
func (e *Executor) WaitFor(ctx context.Context, cond func([]Run) bool) error {
	for {
		e.mu.Lock()
		ok := cond(slices.Clone(e.runs))
		if e.changed == nil {
			e.changed = make(chan struct{})
		}
		changed := e.changed
		e.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("runnertest: waiting for runs: %w", context.Cause(ctx))
		}
	}
}
