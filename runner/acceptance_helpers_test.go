package runner

import (
	"fmt"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/coordinator/coordinatortest"
	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/internal/testio"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/metrics"
	"github.com/kuberunner/kuberunner/runner/runnertest"
)

// stack is the foundation end to end: the fake GitLab (coordinator), the real client, the
// real trace buffer and this package's loop, with fake executors.
type stack struct {
	srv   *coordinatortest.Server
	url   string
	cfg   *config.Config
	execs map[string]*runnertest.Executor // by runner name
	h     *harness
}

// acceptanceRunner is one runner entry of a stack and how the fake GitLab knows it.
type acceptanceRunner struct {
	name  string
	spec  coordinator.RunnerSpec
	entry func(*config.Runner)
	exec  *runnertest.Executor
}

// newStack registers the runners with a new fake GitLab, reached through wrap when set (a
// proxy that can lose or rewrite answers), and builds the Manager; call h.start to run it.
func newStack(t *testing.T, wrap func(http.Handler) http.Handler, edit func(*Options), runners ...acceptanceRunner) *stack {
	t.Helper()
	return newStackWith(t, coordinator.Options{LongPoll: 200 * time.Millisecond, TraceUpdateInterval: time.Second}, wrap, edit, runners...)
}

// newStackWith is newStack over a fake GitLab with options copts. Runner tokens that expire
// (copts.TokenLifetime) have their expiry in the configuration, as register saves it.
func newStackWith(t *testing.T, copts coordinator.Options, wrap func(http.Handler) http.Handler, edit func(*Options), runners ...acceptanceRunner) *stack {
	t.Helper()
	srv, url := coordinatortest.Start(t, copts)
	if wrap != nil {
		proxy := httptest.NewServer(wrap(srv))
		t.Cleanup(proxy.Close)
		url = proxy.URL
	}
	s := &stack{srv: srv, url: url, execs: map[string]*runnertest.Executor{}}
	s.cfg = testConfig()
	for _, ar := range runners {
		rc := config.Runner{Name: ar.name, URL: url, Token: srv.AddRunner(ar.spec), RequestConcurrency: 2, OutputLimit: 4096}
		for _, rr := range srv.Runners() {
			if rr.Token == rc.Token && !rr.TokenExpiresAt.IsZero() {
				rc.TokenExpiresAt = rr.TokenExpiresAt.UTC().Format(time.RFC3339Nano)
			}
		}
		if ar.entry != nil {
			ar.entry(&rc)
		}
		s.cfg.Runners = append(s.cfg.Runners, rc)
		s.execs[ar.name] = ar.exec
	}
	logs := &testio.Buffer{}
	m := metrics.New(prometheus.NewRegistry(), "test", "test")
	opts := testOptions(t, s.cfg, logs, m)
	opts.GitLab = func(rc config.Runner) (GitLab, error) {
		return gitlab.New(gitlab.Options{
			Version:  "test",
			Timeout:  5 * time.Second,
			Features: gitlab.DefaultFeatures(),
			Executor: "kubernetes",
			Observer: func(endpoint, method string, status int, d time.Duration) {
				m.ObserveAPIRequest(rc.Name, endpoint, method, status, d)
			},
		})
	}
	opts.Executor = func(rc config.Runner) (Executor, error) { return s.execs[rc.Name], nil }
	r := mustNew(t, opts, edit)
	s.h = &harness{r: r, logs: logs, secrets: []string{"secret"}}
	for _, rc := range s.cfg.Runners {
		s.h.secrets = append(s.h.secrets, rc.Token)
	}
	return s
}

// untagged is a runner that takes untagged jobs, running exec.
func untagged(name string, exec *runnertest.Executor) acceptanceRunner {
	return acceptanceRunner{name: name, spec: coordinator.RunnerSpec{RunUntagged: true}, exec: exec}
}

// waitDone waits until the fake GitLab considers job id finished and returns its record.
func (s *stack) waitDone(t *testing.T, id int64) coordinator.JobRecord {
	t.Helper()
	rec, err := s.srv.WaitFor(waitCtx(t), id, func(r coordinator.JobRecord) bool { return r.Finished() })
	if err != nil {
		t.Fatalf("job %d not finished (status %s): %v", id, rec.Status, err)
	}
	return rec
}

// waitFor waits until cond holds for job id's record.
func (s *stack) waitFor(t *testing.T, id int64, what string, cond func(coordinator.JobRecord) bool) coordinator.JobRecord {
	t.Helper()
	rec, err := s.srv.WaitFor(waitCtx(t), id, cond)
	if err != nil {
		t.Fatalf("job %d: %s: %v", id, what, err)
	}
	return rec
}

// finals returns the job's updates that carry a final state.
func finals(rec coordinator.JobRecord) []coordinator.StateUpdate {
	var out []coordinator.StateUpdate
	for _, u := range rec.Updates {
		if u.State != string(gitlab.StateRunning) {
			out = append(out, u)
		}
	}
	return out
}

// checkReported checks that the final update describes exactly the trace GitLab has.
func checkReported(t *testing.T, rec coordinator.JobRecord) {
	t.Helper()
	f := finals(rec)
	if len(f) != 1 {
		t.Fatalf("job %d: %d final updates, want exactly 1: %+v", rec.ID, len(f), rec.Updates)
	}
	want := fmt.Sprintf("crc32:%08x", crc32.ChecksumIEEE(rec.Trace))
	if f[0].Checksum != want || f[0].Bytesize != int64(len(rec.Trace)) {
		t.Errorf("job %d: reported %s/%d bytes, GitLab has %s/%d", rec.ID, f[0].Checksum, f[0].Bytesize, want, len(rec.Trace))
	}
	if rec.ChecksumMismatch {
		t.Errorf("job %d: the coordinator saw a checksum mismatch", rec.ID)
	}
}

func lines(data ...string) []runnertest.Chunk {
	var out []runnertest.Chunk
	for _, d := range data {
		out = append(out, runnertest.Chunk{Delay: time.Millisecond, Data: d})
	}
	return out
}

func enqueue(s *stack, n int, tags ...string) []int64 {
	var ids []int64
	for range n {
		ids = append(ids, s.srv.Enqueue(jobspec.Job{JobInfo: jobspec.JobInfo{Name: "test"}}, tags))
	}
	return ids
}

// proxyTrace lets fault answer a PATCH /jobs/:id/trace instead of (or after) the server.
func proxyTrace(fault func(w http.ResponseWriter, r *http.Request, next http.Handler) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPatch && fault(w, r, next) {
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
