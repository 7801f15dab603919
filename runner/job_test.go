package runner

import (
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/runner/runnertest"
)

const testHeader = "\x1b[0KRunning with kuberunner 1.2.3\x1b[0;m\n" +
	"\x1b[0K  on r1, system ID: s_0123456789ab\x1b[0;m\n"

func TestJobLifecycle(t *testing.T) {
	tests := []struct {
		name    string
		job     func(*jobspec.Job)
		script  runnertest.Script
		want    gitlab.UpdateJobRequest // without checksum and size
		wantLog string                  // between header and the end
	}{
		{
			name:    "success",
			script:  runnertest.Script{Chunks: []runnertest.Chunk{{Data: "hello\n"}, {Delay: time.Millisecond, Data: "world\n"}}},
			want:    gitlab.UpdateJobRequest{State: gitlab.StateSuccess, ExitCode: ptr(0)},
			wantLog: "hello\nworld\n\x1b[32;1mJob succeeded\x1b[0;m\n",
		},
		{
			name:    "script failure",
			script:  runnertest.Script{Chunks: []runnertest.Chunk{{Data: "false\n"}}, Result: jobspec.Result{Reason: jobspec.ScriptFailure, ExitCode: 2}},
			want:    gitlab.UpdateJobRequest{State: gitlab.StateFailed, FailureReason: jobspec.ScriptFailure, ExitCode: ptr(2)},
			wantLog: "false\n\x1b[31;1mERROR: Job failed: exit code 2\x1b[0;m\n",
		},
		{
			name:    "system failure",
			script:  runnertest.Script{Result: jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: errors.New("pod evicted")}},
			want:    gitlab.UpdateJobRequest{State: gitlab.StateFailed, FailureReason: jobspec.RunnerSystemFailure},
			wantLog: "\x1b[31;1mERROR: Job failed (system failure): pod evicted\x1b[0;m\n",
		},
		{
			name: "reason the server does not list",
			job: func(j *jobspec.Job) {
				j.Features.FailureReasons = []jobspec.FailureReason{jobspec.ScriptFailure}
			},
			script:  runnertest.Script{Result: jobspec.Result{Reason: jobspec.ImagePullFailure, Err: errors.New("image nope:1 not found")}},
			want:    gitlab.UpdateJobRequest{State: gitlab.StateFailed, FailureReason: jobspec.UnknownFailure},
			wantLog: "\x1b[31;1mERROR: Job failed (image_pull_failure): image nope:1 not found\x1b[0;m\n",
		},
		{
			name: "secrets masked across writes",
			job: func(j *jobspec.Job) {
				j.Variables = jobspec.Variables{{Key: "PASSWORD", Value: "hunter2-secret", Masked: true}}
			},
			script: runnertest.Script{Chunks: []runnertest.Chunk{
				{Data: "pw=hunter2-se"}, {Delay: 30 * time.Millisecond, Data: "cret token=job-token-"}, {Data: "1-secret\n"},
			}},
			want:    gitlab.UpdateJobRequest{State: gitlab.StateSuccess, ExitCode: ptr(0)},
			wantLog: "pw=[MASKED] token=[MASKED]\n\x1b[32;1mJob succeeded\x1b[0;m\n",
		},
		{
			name:    "executor panic",
			script:  runnertest.Script{Panic: true},
			want:    gitlab.UpdateJobRequest{State: gitlab.StateFailed, FailureReason: jobspec.RunnerSystemFailure},
			wantLog: "\x1b[31;1mERROR: Job failed (system failure): executor panicked\x1b[0;m\n",
		},
		{
			name:    "timeout",
			job:     func(j *jobspec.Job) { j.RunnerInfo.Timeout = 1 },
			script:  runnertest.Script{Loop: true},
			want:    gitlab.UpdateJobRequest{State: gitlab.StateFailed, FailureReason: jobspec.JobExecutionTimeout, ExitCode: ptr(137)},
			wantLog: "\x1b[31;1mERROR: Job failed (job_execution_timeout): execution took longer than 1s\x1b[0;m\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			coord := newFakeCoord()
			h := newHarness(t, testConfig(testRunnerEntry("r1")), coord, &runnertest.Executor{Script: tc.script}, nil)
			job := testJob(1)
			if tc.job != nil {
				tc.job(job)
			}
			coord.enqueue(job)
			h.start(t)

			got := h.waitFinal(t, 1)
			trace := coord.trace(1)
			if d := cmp.Diff(testHeader+tc.wantLog, trace); d != "" {
				t.Errorf("trace -want +got:\n%s", d)
			}
			want := tc.want
			want.Checksum = fmt.Sprintf("crc32:%08x", crc32.ChecksumIEEE([]byte(trace)))
			want.Bytesize = int64(len(trace))
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("final update -want +got:\n%s", d)
			}
			if d := cmp.Diff([]gitlab.JobState{gitlab.StateRunning, want.State}, states(coord, 1)); d != "" {
				t.Errorf("states -want +got:\n%s", d)
			}
		})
	}
}

func states(f *fakeCoord, id int64) []gitlab.JobState {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []gitlab.JobState
	for _, u := range f.updates[id] {
		out = append(out, u.State)
	}
	return out
}

// TestAcceptRefused covers the second phase of the commit: a job another manager took, or
// one already gone, is dropped without running it, and the runner goes on.
func TestAcceptRefused(t *testing.T) {
	for name, refusal := range map[string]gitlab.UpdateJobResult{"conflict": gitlab.UpdateConflict, "gone": gitlab.UpdateAbort} {
		t.Run(name, func(t *testing.T) {
			coord := newFakeCoord()
			coord.update = func(id int64, req gitlab.UpdateJobRequest) (gitlab.UpdateJobResult, error, bool) {
				return refusal, nil, id == 1
			}
			exec := &runnertest.Executor{}
			// With one slot, job 2 runs only once job 1 was dropped.
			h := newHarness(t, testConfig(testRunnerEntry("r1")), coord, exec, func(o *Options) { o.Config.Concurrent = 1 })
			coord.enqueue(testJob(1), testJob(2))
			h.start(t)
			h.waitFinal(t, 2)

			var ran []int64
			for _, r := range exec.Runs() {
				ran = append(ran, r.JobID)
			}
			if d := cmp.Diff([]int64{2}, ran); d != "" {
				t.Errorf("jobs run -want +got:\n%s", d)
			}
			if d := cmp.Diff([]gitlab.JobState{gitlab.StateRunning}, states(coord, 1)); d != "" {
				t.Errorf("job 1 states -want +got:\n%s", d)
			}
		})
	}
}

// TestFinalUpdateRetries: the final state is retried through failures and 202s, sent until
// the coordinator takes it, and not sent again after; past Timing.ReportTries it keeps
// trying for as long as the job's own timeout, then gives up.
func TestFinalUpdateRetries(t *testing.T) {
	tests := []struct {
		name    string
		answers []error // one per try before success; nil means a 202
		endless bool    // the coordinator fails every final update
		timeout int     // the job's timeout in seconds
		tries   int     // Timing.ReportTries
		want    int     // final updates sent (at least, when endless)
	}{
		{name: "accepted at once", want: 1, tries: 5},
		{name: "500 storm", answers: []error{transient(), transient(), transient()}, want: 4, tries: 5},
		{name: "trace not yet", answers: []error{nil, nil}, want: 3, tries: 5},
		{name: "outlasts the tries within the job's timeout", answers: []error{transient(), transient(), transient()}, want: 4, tries: 2},
		{name: "gives up at the job's timeout", endless: true, timeout: 1, want: 2, tries: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			coord := newFakeCoord()
			n := 0
			coord.update = func(id int64, req gitlab.UpdateJobRequest) (gitlab.UpdateJobResult, error, bool) {
				if tc.endless && id == 1 && req.State != gitlab.StateRunning {
					n++
					return 0, transient(), true
				}
				if req.State == gitlab.StateRunning || n >= len(tc.answers) {
					return 0, nil, false
				}
				n++
				if tc.answers[n-1] == nil {
					return gitlab.UpdateTraceNotYet, nil, true
				}
				return 0, tc.answers[n-1], true
			}
			exec := &runnertest.Executor{}
			h := newHarness(t, testConfig(testRunnerEntry("r1")), coord, exec, func(o *Options) {
				o.Timing.ReportTries = tc.tries
				o.Config.Concurrent = 1
			})
			first := testJob(1)
			first.RunnerInfo.Timeout = tc.timeout
			start := time.Now()
			coord.enqueue(first, testJob(2))
			h.start(t)
			// With one slot, job 2 runs only once reporting job 1 is over.
			h.waitFinal(t, 2)

			finals := 0
			for _, s := range states(coord, 1) {
				if s != gitlab.StateRunning {
					finals++
				}
			}
			switch {
			case tc.endless && (finals < tc.want || time.Since(start) < time.Duration(tc.timeout)*time.Second):
				t.Errorf("gave up after %d final updates and %s, want at least %d and the job's %d s",
					finals, time.Since(start).Round(time.Millisecond), tc.want, tc.timeout)
			case !tc.endless && finals != tc.want:
				t.Errorf("final updates sent = %d, want %d", finals, tc.want)
			}
		})
	}
}

func transient() error {
	return fmt.Errorf("update job: %w", &gitlab.StatusError{Method: "PUT", Endpoint: "jobs/:id", Code: 500})
}

// TestUnreadablePayload: a job GitLab assigned but this runner cannot read is failed at once
// with the reason in its trace; one without an id or token is dropped; polling goes on.
func TestUnreadablePayload(t *testing.T) {
	coord := newFakeCoord()
	jc := gitlab.JobCredentials{URL: "http://gitlab.invalid", ID: 7, Token: "job-token-7-secret"}
	coord.request = func(n int, _ string) (*jobspec.Job, string, error) {
		switch n {
		case 0:
			return nil, "", &gitlab.PayloadError{Err: errors.New("malformed JSON at byte 3")}
		case 1:
			return nil, "", &gitlab.PayloadError{Job: &jc, Field: "steps", Err: errors.New("got a JSON string, want an array")}
		case 2:
			return testJob(8), "", nil
		}
		return nil, "", nil
	}
	h := newHarness(t, testConfig(testRunnerEntry("r1")), coord, &runnertest.Executor{}, func(o *Options) {
		o.Config.CheckInterval = 0 // default: 3 s, longer than this test waits for anything
	})
	h.start(t)

	got := h.waitFinal(t, 7)
	if got.State != gitlab.StateFailed || got.FailureReason != jobspec.RunnerUnsupported {
		t.Errorf("unreadable job reported %s/%s, want failed/runner_unsupported", got.State, got.FailureReason)
	}
	wantTrace := testHeader + "\x1b[31;1mERROR: Job failed (runner_unsupported): job 7 payload: field \"steps\": got a JSON string, want an array\x1b[0;m\n"
	if d := cmp.Diff(wantTrace, coord.trace(7)); d != "" {
		t.Errorf("trace -want +got:\n%s", d)
	}
	if got := h.waitFinal(t, 8); got.State != gitlab.StateSuccess {
		t.Errorf("next job: %s, want success", got.State)
	}
	if !strings.Contains(h.logs.String(), "unreadable job payload dropped") {
		t.Errorf("the dropped payload was not logged:\n%s", h.logs.String())
	}
}
