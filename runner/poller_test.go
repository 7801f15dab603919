package runner

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/runner/runnertest"
)

// TestPollAnswers checks what a poller does after each kind of answer, by the gap before
// its next request: pauses are checked as lower bounds, and "at once" by making every
// other pause an hour long, so a wrong choice hangs until the test deadline.
func TestPollAnswers(t *testing.T) {
	tests := []struct {
		name   string
		answer error
		timing func(*Timing)
		check  time.Duration // check_interval
		// limit and interval are unhealthy_requests_limit and unhealthy_interval.
		limit    int
		interval time.Duration
		minGap   time.Duration
		wantLog  string
	}{
		{name: "no job: wait for check_interval", check: 80 * time.Millisecond, minGap: 80 * time.Millisecond},
		{name: "conflict: at once", answer: fmt.Errorf("request job: %w", gitlab.ErrConflict), check: time.Hour,
			timing: func(t *Timing) { t.Backoff = gitlab.Backoff{Min: time.Hour, Max: time.Hour} }},
		{name: "forbidden: backoff below the unhealthy limit", answer: fmt.Errorf("request job from http://gitlab.invalid: %w", gitlab.ErrForbidden), check: time.Hour,
			timing:  func(t *Timing) { t.Backoff = gitlab.Backoff{Min: 80 * time.Millisecond, Max: time.Second} },
			limit:   10,
			minGap:  80 * time.Millisecond,
			wantLog: "job request forbidden"},
		{name: "unhealthy: pause once the limit is reached", answer: fmt.Errorf("request job: %w", gitlab.ErrForbidden), check: time.Hour,
			timing:   func(t *Timing) { t.Backoff = gitlab.Backoff{Min: time.Hour, Max: time.Hour} },
			limit:    1,
			interval: 80 * time.Millisecond,
			minGap:   80 * time.Millisecond,
			wantLog:  "job requests keep failing: pausing this poller"},
		{name: "outage: backoff, never the unhealthy pause", answer: fmt.Errorf("request job: %w", gitlab.ErrTransient), check: time.Hour,
			timing:   func(t *Timing) { t.Backoff = gitlab.Backoff{Min: 80 * time.Millisecond, Max: 80 * time.Millisecond} },
			limit:    1,
			interval: time.Hour,
			minGap:   80 * time.Millisecond,
			wantLog:  "job request failed"},
		{name: "transient: backoff", answer: fmt.Errorf("request job: %w", &gitlab.StatusError{Code: 503}), check: time.Hour,
			timing:  func(t *Timing) { t.Backoff = gitlab.Backoff{Min: 80 * time.Millisecond, Max: time.Second} },
			minGap:  80 * time.Millisecond,
			wantLog: "job request failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			coord := newFakeCoord()
			coord.request = func(n int, _ string) (*jobspec.Job, string, error) {
				return nil, fmt.Sprintf("update-%d", n), tc.answer
			}
			rc := testRunnerEntry("r1")
			rc.UnhealthyRequestsLimit, rc.UnhealthyInterval = tc.limit, config.Duration(tc.interval)
			h := newHarness(t, testConfig(rc), coord, &runnertest.Executor{}, func(o *Options) {
				o.Config.CheckInterval = config.Duration(tc.check)
				if tc.timing != nil {
					tc.timing(&o.Timing)
				}
			})
			h.start(t)
			if err := coord.waitFor(waitCtx(t), func(f *fakeCoord) bool { return len(f.requests) >= 3 }); err != nil {
				t.Fatal(err)
			}
			calls := coord.requestCalls()[:3]
			for i := 1; i < len(calls); i++ {
				if gap := calls[i].At.Sub(calls[i-1].At); gap < tc.minGap {
					t.Errorf("request %d came %v after the previous one, want at least %v", i, gap, tc.minGap)
				}
			}
			wantEcho := []string{"", "", ""}
			if tc.answer == nil {
				wantEcho = []string{"", "update-0", "update-1"} // X-GitLab-Last-Update echoed
			}
			var echo []string
			for _, c := range calls {
				echo = append(echo, c.LastUpdate)
				if c.Token != testRunnerToken {
					t.Errorf("request sent token %q, want the runner's", c.Token)
				}
			}
			if d := cmp.Diff(wantEcho, echo); d != "" {
				t.Errorf("last_update sent -want +got:\n%s", d)
			}
			if !strings.Contains(h.logs.String(), tc.wantLog) {
				t.Errorf("logs lack %q:\n%s", tc.wantLog, h.logs.String())
			}
		})
	}
}

// TestSlots: a poller holds a slot before it asks for a job, so requests in flight plus jobs
// running never exceed the cap (the fake counts both), and every job still runs.
func TestSlots(t *testing.T) {
	tests := []struct {
		name       string
		concurrent int
		limit      int
		want       int
	}{
		{name: "global concurrent", concurrent: 2, want: 2},
		{name: "runner limit", concurrent: 10, limit: 3, want: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			coord := newFakeCoord()
			coord.limit = tc.want
			exec := &runnertest.Executor{Script: runnertest.Script{Chunks: []runnertest.Chunk{{Delay: 5 * time.Millisecond, Data: "x\n"}}}}
			rc := testRunnerEntry("r1")
			rc.RequestConcurrency, rc.Limit = 4, tc.limit
			h := newHarness(t, testConfig(rc), coord, exec, func(o *Options) { o.Config.Concurrent = tc.concurrent })
			const jobs = 12
			for id := int64(1); id <= jobs; id++ {
				coord.enqueue(testJob(id))
			}
			h.start(t)
			for id := int64(1); id <= jobs; id++ {
				if got := h.waitFinal(t, id); got.State != gitlab.StateSuccess {
					t.Errorf("job %d: %s, want success", id, got.State)
				}
			}
			coord.mu.Lock()
			violations := coord.violations
			coord.mu.Unlock()
			if len(violations) > 0 {
				t.Errorf("polled without a free slot: %v", violations)
			}
			if got := exec.MaxConcurrent(); got > tc.want {
				t.Errorf("max concurrent jobs = %d, want at most %d", got, tc.want)
			}
		})
	}
}
