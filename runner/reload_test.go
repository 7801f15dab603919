package runner

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/runner/runnertest"
)

const secondToken = "glrt-second-runner-token-0123"

// closingExec is the fake executor with a Close that records it was called.
type closingExec struct {
	*runnertest.Executor
	closed atomic.Bool
}

func (c *closingExec) Close() { c.closed.Store(true) }

func tokenEntry(name, token string) config.Runner {
	rc := testRunnerEntry(name)
	rc.Token = token
	return rc
}

// reload applies c and fails the test if Reload refuses any of it.
func (h *harness) reload(t *testing.T, c *config.Config) int {
	t.Helper()
	n, err := h.r.Reload(c)
	if err != nil {
		t.Fatalf("Reload: %v", err)
	}
	return n
}

func (h *harness) waitLog(t *testing.T, want string) {
	t.Helper()
	waitUntil(t, "log "+want, func() bool { return strings.Contains(h.logs.String(), want) })
}

func requestedWith(coord *fakeCoord, token string) bool {
	return slices.ContainsFunc(coord.requestCalls(), func(c requestCall) bool { return c.Token == token })
}

func TestReloadAddsRunner(t *testing.T) {
	coord := newFakeCoord()
	h := newHarness(t, testConfig(testRunnerEntry("r1")), coord, &runnertest.Executor{}, nil)
	h.start(t)
	waitUntil(t, "r1 polling", func() bool { return requestedWith(coord, testRunnerToken) })

	if n := h.reload(t, testConfig(testRunnerEntry("r1"), tokenEntry("r2", secondToken))); n != 1 {
		t.Errorf("Reload = %d changes, want 1", n)
	}
	h.secrets = append(h.secrets, secondToken)
	waitUntil(t, "r2 polling", func() bool { return requestedWith(coord, secondToken) })
	coord.enqueue(testJob(1))
	if got := h.waitFinal(t, 1); got.State != gitlab.StateSuccess {
		t.Errorf("job after the reload: %s, want success", got.State)
	}
	h.waitLog(t, `msg="config reloaded: runner added" runner=r2`)
}

// TestReloadRemovesRunnerWhileItsJobRuns: a removed runner asks for no job; the job it runs
// finishes, is reported, and only then is its executor closed.
func TestReloadRemovesRunnerWhileItsJobRuns(t *testing.T) {
	old, other := newFakeCoord(), newFakeCoord()
	gate := make(chan struct{})
	exec := &closingExec{Executor: &runnertest.Executor{Script: runnertest.Script{Chunks: []runnertest.Chunk{
		{Data: "started\n"}, {Gate: gate, Data: "finished after the reload\n"},
	}}}}
	h := newHarness(t, testConfig(testRunnerEntry("r1")), old, exec.Executor, func(o *Options) {
		o.GitLab = func(rc config.Runner) (GitLab, error) {
			if rc.Name == "r2" {
				return other, nil
			}
			return old, nil
		}
		o.Executor = func(config.Runner) (Executor, error) { return exec, nil }
	})
	old.enqueue(testJob(1))
	h.start(t)
	if err := exec.WaitFor(waitCtx(t), func(runs []runnertest.Run) bool { return len(runs) == 1 }); err != nil {
		t.Fatal(err)
	}

	h.reload(t, testConfig(tokenEntry("r2", secondToken)))
	h.secrets = append(h.secrets, secondToken)
	h.waitLog(t, "config reloaded: runner removed")
	waitUntil(t, "r2 polling", func() bool { return requestedWith(other, secondToken) })
	asked := len(old.requestCalls())
	old.enqueue(testJob(2))
	time.Sleep(100 * time.Millisecond) // r1 polled every 10 ms before
	if exec.closed.Load() {
		t.Error("the executor was closed while its job ran")
	}
	close(gate)
	final := h.waitFinal(t, 1)
	if final.State != gitlab.StateSuccess || !strings.Contains(old.trace(1), "finished after the reload\n") {
		t.Errorf("job of the removed runner: %s, trace %q; want success with the whole trace", final.State, old.trace(1))
	}
	waitUntil(t, "the executor closed", exec.closed.Load)
	if n := len(old.requestCalls()); n != asked {
		t.Errorf("the removed runner asked for %d more jobs", n-asked)
	}
	if _, ok := old.finalState(2); ok || len(exec.Runs()) != 1 {
		t.Errorf("the removed runner took job 2")
	}
}

// TestReloadLowersConcurrent: with concurrent lowered below the jobs running, no job
// starts until they are down to the new value; the running ones are not touched.
func TestReloadLowersConcurrent(t *testing.T) {
	coord := newFakeCoord()
	gate := make(chan struct{})
	exec := &runnertest.Executor{Script: runnertest.Script{Chunks: []runnertest.Chunk{
		{Gate: gate}, {Delay: 20 * time.Millisecond, Data: "x\n"},
	}}}
	rc := testRunnerEntry("r1")
	rc.RequestConcurrency = 3
	cfg := testConfig(rc)
	cfg.Concurrent = 3
	h := newHarness(t, cfg, coord, exec, nil)
	for id := int64(1); id <= 6; id++ {
		coord.enqueue(testJob(id))
	}
	h.start(t)
	if err := exec.WaitFor(waitCtx(t), func(runs []runnertest.Run) bool { return len(runs) == 3 }); err != nil {
		t.Fatal(err)
	}
	lower := testConfig(rc)
	lower.Concurrent = 1
	if n := h.reload(t, lower); n != 1 {
		t.Errorf("Reload = %d changes, want 1", n)
	}
	h.waitLog(t, `msg="config reloaded: concurrent changed" from=3 to=1`)
	close(gate)
	for id := int64(1); id <= 6; id++ {
		if got := h.waitFinal(t, id); got.State != gitlab.StateSuccess {
			t.Errorf("job %d: %s", id, got.State)
		}
	}
	runs := exec.Runs()
	lastOfFirst := time.Time{}
	for _, r := range runs[:3] {
		lastOfFirst = later(lastOfFirst, r.Ended)
	}
	for i, r := range runs[3:] {
		if r.Started.Before(lastOfFirst) {
			t.Errorf("run %d started before the jobs running at the reload were done", i+3)
		}
		if i > 0 && r.Started.Before(runs[3+i-1].Ended) {
			t.Errorf("run %d overlapped run %d with concurrent 1", i+3, i+2)
		}
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// TestReloadLimitsAndExecutorSettings: the changes that are read for the next request or
// job are logged one line each; what needs a restart is logged and kept.
func TestReloadLimitsAndExecutorSettings(t *testing.T) {
	coord := newFakeCoord()
	exec := &reconfExec{Executor: &runnertest.Executor{}}
	h := newHarness(t, testConfig(testRunnerEntry("r1")), coord, exec.Executor, func(o *Options) {
		o.Executor = func(config.Runner) (Executor, error) { return exec, nil }
	})
	h.start(t)
	waitUntil(t, "r1 polling", func() bool { return requestedWith(coord, testRunnerToken) })
	rc := testRunnerEntry("r1")
	rc.Limit, rc.RequestConcurrency, rc.OutputLimit = 2, 3, 1
	rc.URL = "http://elsewhere.invalid"
	rc.Kubernetes.Image = "alpine:3"
	cfg := testConfig(rc)
	cfg.CheckInterval = config.Duration(time.Second)
	if n := h.reload(t, cfg); n != 5 {
		t.Errorf("Reload = %d changes, want 5:\n%s", n, h.logs.String())
	}
	for _, want := range []string{
		"kubernetes settings changed", `limit changed" runner=r1 from=0 to=2`,
		`request_concurrency changed" runner=r1 from=1 to=3`, "output_limit changed",
		"check_interval changed", "url needs a restart",
	} {
		h.waitLog(t, want)
	}
	if got := exec.got.Load(); got == nil || got.Kubernetes.Image != "alpine:3" {
		t.Errorf("the executor was not given the new settings: %+v", got)
	}
	h.r.mu.Lock()
	e, pollers := h.r.entries[0], len(h.r.entries[0].pollers)
	h.r.mu.Unlock()
	if e.conf().URL != "http://gitlab.invalid" || e.conf().OutputLimit != 1 || pollers != 3 {
		t.Errorf("entry after the reload: url %s, output_limit %d, %d pollers", e.conf().URL, e.conf().OutputLimit, pollers)
	}
	if n := h.reload(t, cfg); n != 0 {
		t.Errorf("the same configuration again: %d changes, want 0", n)
	}
}

type reconfExec struct {
	*runnertest.Executor
	got atomic.Pointer[config.Runner]
}

func (r *reconfExec) Reconfigure(rc config.Runner) error {
	r.got.Store(&rc)
	return nil
}

// rotatingCoord is the fake coordinator with token resets: each gives a new token that
// expires in an hour.
type rotatingCoord struct {
	*fakeCoord
	resets atomic.Int32
}

func (c *rotatingCoord) ResetToken(context.Context, string, string) (gitlab.Registration, error) {
	n := c.resets.Add(1)
	return gitlab.Registration{Token: fmt.Sprintf("glrt-rotated-%d", n), TokenExpiresAt: time.Now().Add(time.Hour)}, nil
}

// TestReloadOfTheRotationsOwnWrite: the file a rotation saved names the same runner with
// the token in use: reloading it changes nothing, the pollers are not restarted, and
// requests go on with the rotated token.
func TestReloadOfTheRotationsOwnWrite(t *testing.T) {
	coord := &rotatingCoord{fakeCoord: newFakeCoord()}
	saves := &tokenSaves{}
	now := time.Now().UTC()
	rc := testRunnerEntry("r1")
	rc.TokenObtainedAt = now.Add(-3 * time.Hour).Format(time.RFC3339)
	rc.TokenExpiresAt = now.Add(time.Hour).Format(time.RFC3339)
	h := newHarness(t, testConfig(rc), coord.fakeCoord, &runnertest.Executor{}, func(o *Options) {
		o.GitLab = func(config.Runner) (GitLab, error) { return coord, nil }
		o.SaveToken = saves.save
	})
	h.start(t)
	waitUntil(t, "the rotation", func() bool { return len(saves.tokens()) == 2 })
	h.secrets = append(h.secrets, "glrt-rotated-1")

	saved := saves.last()
	written := rc
	written.Token = saved.token
	written.TokenObtainedAt = saved.obtained.UTC().Format(time.RFC3339)
	written.TokenExpiresAt = saved.expires.UTC().Format(time.RFC3339)
	if n := h.reload(t, testConfig(written)); n != 0 {
		t.Errorf("reload of the rotation's write: %d changes, want 0:\n%s", n, h.logs.String())
	}
	asked := len(coord.requestCalls())
	waitUntil(t, "requests after the reload", func() bool { return len(coord.requestCalls()) > asked+2 })
	for _, c := range coord.requestCalls()[asked:] {
		if c.Token != "glrt-rotated-1" {
			t.Fatalf("a request after the reload did not carry the rotated token")
		}
	}
	if strings.Contains(h.logs.String(), "token replaced") || coord.resets.Load() != 1 {
		t.Errorf("the reload took the rotation's write for a new token (%d resets):\n%s", coord.resets.Load(), h.logs.String())
	}
}

// TestReloadReplacesToken: a token that is not the one in use is the operator's: it
// replaces the one in use at the next request.
func TestReloadReplacesToken(t *testing.T) {
	coord := newFakeCoord()
	h := newHarness(t, testConfig(testRunnerEntry("r1")), coord, &runnertest.Executor{}, nil)
	h.start(t)
	h.secrets = append(h.secrets, secondToken)
	if n := h.reload(t, testConfig(tokenEntry("r1", secondToken))); n != 1 {
		t.Errorf("Reload = %d changes, want 1", n)
	}
	waitUntil(t, "the new token", func() bool { return requestedWith(coord, secondToken) })
	h.waitLog(t, `msg="config reloaded: token replaced" runner=r1`)
}
