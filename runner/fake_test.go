package runner

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/jobspec"
)

// fakeCoord is an in-memory GitLab for the loop's own unit tests: a queue of jobs, a
// trace per job with GitLab's offset rule (416 on a gap), and hooks to inject answers.
// The acceptance tests use the real client against the coordinator package instead.
type fakeCoord struct {
	// request, when set, answers RequestJob instead of the queue.
	request func(n int, lastUpdate string) (*jobspec.Job, string, error)
	// patch, when set, may answer a PATCH before the fake does (handled=true).
	patch func(id, off int64, data []byte) (res gitlab.PatchTraceResult, err error, handled bool)
	// update, when set, may answer a PUT before the fake does (handled=true).
	update func(id int64, req gitlab.UpdateJobRequest) (res gitlab.UpdateJobResult, err error, handled bool)
	// limit: requests in flight plus jobs not yet finished must never exceed it (0: unchecked).
	limit int

	mu          sync.Mutex
	queue       []*jobspec.Job
	requests    []requestCall
	patches     map[int64][]patchCall
	updates     map[int64][]gitlab.UpdateJobRequest
	traces      map[int64][]byte
	outstanding int
	violations  []string
	changed     chan struct{}
}

type requestCall struct {
	At         time.Time
	LastUpdate string
	Token      string
}

type patchCall struct {
	At     time.Time
	Offset int64
	Len    int
}

func newFakeCoord() *fakeCoord {
	return &fakeCoord{
		patches: map[int64][]patchCall{},
		updates: map[int64][]gitlab.UpdateJobRequest{},
		traces:  map[int64][]byte{},
		changed: make(chan struct{}),
	}
}

func (f *fakeCoord) enqueue(jobs ...*jobspec.Job) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = append(f.queue, jobs...)
	f.notifyLocked()
}

func (f *fakeCoord) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeCoord) RequestJob(ctx context.Context, rc gitlab.RunnerCredentials, lastUpdate string) (*jobspec.Job, string, error) {
	f.mu.Lock()
	n := len(f.requests)
	f.requests = append(f.requests, requestCall{At: time.Now(), LastUpdate: lastUpdate, Token: rc.Token})
	f.outstanding++
	if f.limit > 0 && f.outstanding > f.limit {
		f.violations = append(f.violations, fmt.Sprintf("request %d with %d outstanding", n, f.outstanding))
	}
	var job *jobspec.Job
	if f.request == nil && len(f.queue) > 0 {
		job, f.queue = f.queue[0], f.queue[1:]
	}
	if job == nil && f.request == nil {
		// A short long-poll: wait for a job or give up, as GitLab's Workhorse would.
		f.outstanding--
		f.notifyLocked()
		changed := f.changed
		f.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
		return nil, "lu", ctx.Err()
	}
	f.notifyLocked()
	f.mu.Unlock()

	var (
		lu  string
		err error
	)
	if f.request != nil {
		job, lu, err = f.request(n, lastUpdate)
	}
	if job == nil {
		f.mu.Lock()
		f.outstanding--
		f.notifyLocked()
		f.mu.Unlock()
	}
	return job, lu, err
}

func (f *fakeCoord) UpdateJob(ctx context.Context, jc gitlab.JobCredentials, req gitlab.UpdateJobRequest) (gitlab.UpdateJobResult, error) {
	if f.update != nil {
		if res, err, ok := f.update(jc.ID, req); ok {
			f.record(jc.ID, req, res, err)
			return res, err
		}
	}
	f.record(jc.ID, req, gitlab.UpdateAccepted, nil)
	return gitlab.UpdateAccepted, nil
}

// record keeps the update; a final state accepted (or refused) frees the job's share of the limit.
func (f *fakeCoord) record(id int64, req gitlab.UpdateJobRequest, res gitlab.UpdateJobResult, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates[id] = append(f.updates[id], req)
	final := req.State != gitlab.StateRunning
	refused := res == gitlab.UpdateConflict || res == gitlab.UpdateAbort
	if err == nil && ((final && res != gitlab.UpdateTraceNotYet) || (!final && refused)) {
		f.outstanding--
	}
	f.notifyLocked()
}

func (f *fakeCoord) PatchTrace(ctx context.Context, jc gitlab.JobCredentials, off int64, data []byte) (gitlab.PatchTraceResult, error) {
	if f.patch != nil {
		if res, err, ok := f.patch(jc.ID, off, data); ok {
			return res, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.notifyLocked()
	f.patches[jc.ID] = append(f.patches[jc.ID], patchCall{At: time.Now(), Offset: off, Len: len(data)})
	have := int64(len(f.traces[jc.ID]))
	if off != have {
		return gitlab.PatchTraceResult{RangeMismatch: true, SentOffset: have, JobStatus: "running"}, nil
	}
	f.traces[jc.ID] = append(f.traces[jc.ID], data...)
	return gitlab.PatchTraceResult{SentOffset: off + int64(len(data)), JobStatus: "running"}, nil
}

// waitFor waits until cond holds (called with the fake locked) or the deadline passes.
func (f *fakeCoord) waitFor(ctx context.Context, cond func(f *fakeCoord) bool) error {
	for {
		f.mu.Lock()
		ok := cond(f)
		changed := f.changed
		f.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("fake coordinator: condition not met: %w", ctx.Err())
		}
	}
}

// finalState is the job's last non-running update, if any.
func (f *fakeCoord) finalState(id int64) (gitlab.UpdateJobRequest, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ups := f.updates[id]
	i := slices.IndexFunc(ups, func(u gitlab.UpdateJobRequest) bool { return u.State != gitlab.StateRunning })
	if i < 0 {
		return gitlab.UpdateJobRequest{}, false
	}
	return ups[i], true
}

func (f *fakeCoord) trace(id int64) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return string(f.traces[id])
}

func (f *fakeCoord) requestCalls() []requestCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}
