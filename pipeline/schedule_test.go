package pipeline

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/pipeline/compiler"
)

// pj builds a compiled job: "name@stage" with options applied.
func pj(spec string, opts ...func(*compiler.Job)) *compiler.Job {
	name, stage, _ := strings.Cut(spec, "@")
	j := &compiler.Job{Name: name, Stage: stage, When: "on_success", Script: []string{"true"}}
	for _, o := range opts {
		o(j)
	}
	return j
}

func needs(names ...string) func(*compiler.Job) {
	return func(j *compiler.Job) {
		j.Needs = []compiler.Need{}
		for _, n := range names {
			j.Needs = append(j.Needs, compiler.Need{Job: n, Artifacts: true})
		}
	}
}

func when(w string) func(*compiler.Job) { return func(j *compiler.Job) { j.When = w } }

func allowFailure(codes ...int) func(*compiler.Job) {
	return func(j *compiler.Job) { j.AllowFailure, j.AllowFailureExitCodes = true, codes }
}

func retry(r compiler.Retry) func(*compiler.Job) { return func(j *compiler.Job) { j.Retry = r } }

func group(g string) func(*compiler.Job) { return func(j *compiler.Job) { j.ResourceGroup = g } }

func manual(allowFail bool) func(*compiler.Job) {
	return func(j *compiler.Job) { j.When, j.AllowFailure = "manual", allowFail }
}

func newPipeline(jobs ...*compiler.Job) *compiler.Pipeline {
	return &compiler.Pipeline{Stages: []string{".pre", "build", "test", "deploy", ".post"}, Jobs: jobs}
}

var (
	ok      = Outcome{Status: StatusSuccess}
	fail    = Outcome{Status: StatusFailed, Reason: jobspec.ScriptFailure, ExitCode: 1}
	fail2   = Outcome{Status: StatusFailed, Reason: jobspec.ScriptFailure, ExitCode: 2}
	sysFail = Outcome{Status: StatusFailed, Reason: jobspec.RunnerSystemFailure, ExitCode: 0}
)

// simulate drives s the way the engine does, finishing one job at a time in the order they
// started, with the scripted outcome of each attempt (success when none is left). It
// returns the events ("+x" started, "x=status" finished, "x~retry") and the final states.
func simulate(t *testing.T, s *Scheduler, outcomes map[string][]Outcome, cancelAfter string) ([]string, map[string]string) {
	t.Helper()
	var events, queue []string
	next := func() {
		for _, tr := range s.Next() {
			if tr.Status == StatusPending {
				events = append(events, "+"+tr.Name)
				queue = append(queue, tr.Name)
			}
		}
	}
	next()
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 100 {
			t.Fatal("the pipeline does not end")
		}
		name := queue[0]
		queue = queue[1:]
		s.Running(name)
		o := ok
		if script := outcomes[name]; len(script) > 0 {
			o, outcomes[name] = script[0], script[1:]
		}
		if name == cancelAfter {
			s.Cancel()
			o = Outcome{Status: StatusCanceled}
		}
		if s.Finished(name, o) {
			events = append(events, name+"~retry")
		} else {
			events = append(events, name+"="+string(o.Status))
		}
		next()
	}
	if s.Active() {
		t.Fatal("jobs still active after the queue drained")
	}
	final := map[string]string{"(pipeline)": string(s.Status())}
	for _, j := range s.Jobs() {
		st := string(j.Status)
		if j.AllowedFailure {
			st += " (allowed)"
		}
		if j.Attempts > 1 {
			st += fmt.Sprintf(" x%d", j.Attempts)
		}
		final[j.Name] = st
	}
	return events, final
}

func TestSchedulerRules(t *testing.T) {
	tests := []struct {
		name        string
		jobs        []*compiler.Job
		play        []string
		outcomes    map[string][]Outcome
		cancelAfter string
		wantEvents  []string // nil: not checked
		wantFinal   map[string]string
	}{
		{
			name:       "stage order",
			jobs:       []*compiler.Job{pj("b1@build"), pj("b2@build"), pj("t@test"), pj("d@deploy")},
			wantEvents: []string{"+b1", "+b2", "b1=success", "b2=success", "+t", "t=success", "+d", "d=success"},
			wantFinal:  map[string]string{"(pipeline)": "success", "b1": "success", "b2": "success", "t": "success", "d": "success"},
		},
		{
			name: "a failure skips later on_success jobs and runs on_failure and always jobs",
			jobs: []*compiler.Job{pj("b@build"), pj("t@test"), pj("alert@deploy", when("on_failure")),
				pj("report@deploy", when("always")), pj("d@deploy")},
			outcomes: map[string][]Outcome{"b": {fail}},
			wantFinal: map[string]string{"(pipeline)": "failed", "b": "failed", "t": "skipped",
				"alert": "success", "report": "success", "d": "skipped"},
		},
		{
			name:     "on_failure is skipped when nothing failed, and a skipped stage lets later stages run",
			jobs:     []*compiler.Job{pj("alert@build", when("on_failure")), pj("t@test"), pj("after@deploy", when("on_failure"))},
			outcomes: map[string][]Outcome{},
			wantFinal: map[string]string{"(pipeline)": "success", "alert": "skipped", "t": "success",
				"after": "skipped"},
		},
		{
			name:     "a failed allow_failure job counts as success for later jobs",
			jobs:     []*compiler.Job{pj("lint@build", allowFailure()), pj("t@test"), pj("alert@test", when("on_failure"))},
			outcomes: map[string][]Outcome{"lint": {fail}},
			wantFinal: map[string]string{"(pipeline)": "success", "lint": "failed (allowed)", "t": "success",
				"alert": "skipped"},
		},
		{
			name:     "allow_failure exit_codes allow only those codes",
			jobs:     []*compiler.Job{pj("a@build", allowFailure(1)), pj("b@build", allowFailure(1)), pj("t@test")},
			outcomes: map[string][]Outcome{"a": {fail}, "b": {fail2}},
			wantFinal: map[string]string{"(pipeline)": "failed", "a": "failed (allowed)", "b": "failed",
				"t": "skipped"},
		},
		{
			name: "needs start a job as soon as its needs succeed",
			jobs: []*compiler.Job{pj("b1@build"), pj("b2@build"), pj("t1@test", needs("b1")), pj("t2@test"),
				pj("lint@test", needs())},
			wantEvents: []string{"+b1", "+b2", "+lint", "b1=success", "+t1", "b2=success", "+t2",
				"lint=success", "t1=success", "t2=success"},
			wantFinal: map[string]string{"(pipeline)": "success", "b1": "success", "b2": "success",
				"t1": "success", "t2": "success", "lint": "success"},
		},
		{
			name: "a failed or skipped need skips the job; an allowed failure does not",
			jobs: []*compiler.Job{pj("b1@build"), pj("b2@build", when("on_failure")), pj("b3@build", allowFailure()),
				pj("t1@test", needs("b1")), pj("t2@test", needs("b2")), pj("t3@test", needs("b3")),
				pj("t4@test", needs("b1"), when("always"))},
			outcomes: map[string][]Outcome{"b1": {fail}, "b3": {fail}},
			wantFinal: map[string]string{"(pipeline)": "failed", "b1": "failed", "b2": "skipped",
				"b3": "failed (allowed)", "t1": "skipped", "t2": "skipped", "t3": "success", "t4": "success"},
		},
		{
			name: "a need on a skipped job skips the job (DAG), where stage order would run it",
			jobs: []*compiler.Job{pj("alert@build", when("on_failure")), pj("dag@test", needs("alert")),
				pj("staged@test")},
			wantFinal: map[string]string{"(pipeline)": "success", "alert": "skipped", "dag": "skipped",
				"staged": "success"},
		},
		{
			name: "manual jobs are not run unless played; an optional manual job does not block",
			jobs: []*compiler.Job{pj("deploy@build", manual(true)), pj("t@test"), pj("after@test", needs("deploy"))},
			wantFinal: map[string]string{"(pipeline)": "success", "deploy": "manual", "t": "success",
				"after": "skipped"},
		},
		{
			name: "a blocking manual job holds back later stages",
			jobs: []*compiler.Job{pj("b@build"), pj("gate@test", manual(false)), pj("d@deploy")},
			wantFinal: map[string]string{"(pipeline)": "success", "b": "success", "gate": "manual",
				"d": "skipped"},
		},
		{
			name:       "a played manual job runs like on_success",
			jobs:       []*compiler.Job{pj("b@build"), pj("gate@test", manual(false)), pj("d@deploy"), pj("later@deploy", when("delayed"))},
			play:       []string{"gate", "later"},
			wantEvents: []string{"+b", "b=success", "+gate", "gate=success", "+d", "+later", "d=success", "later=success"},
			wantFinal: map[string]string{"(pipeline)": "success", "b": "success", "gate": "success",
				"d": "success", "later": "success"},
		},
		{
			name: "retry until it passes, at most max times",
			jobs: []*compiler.Job{pj("flaky@build", retry(compiler.Retry{Max: 2})), pj("broken@build", retry(compiler.Retry{Max: 1})),
				pj("t@test")},
			outcomes:   map[string][]Outcome{"flaky": {fail, fail, ok}, "broken": {fail, fail, ok}},
			wantEvents: []string{"+flaky", "+broken", "flaky~retry", "+flaky", "broken~retry", "+broken", "flaky~retry", "+flaky", "broken=failed", "flaky=success"},
			wantFinal:  map[string]string{"(pipeline)": "failed", "flaky": "success x3", "broken": "failed x2", "t": "skipped"},
		},
		{
			name: "retry only on the listed reasons and exit codes",
			jobs: []*compiler.Job{
				pj("sys@build", retry(compiler.Retry{Max: 2, When: []string{"runner_system_failure"}})),
				pj("script@build", retry(compiler.Retry{Max: 2, When: []string{"runner_system_failure"}})),
				pj("code@build", retry(compiler.Retry{Max: 2, ExitCodes: []int{2}})),
				pj("code2@build", retry(compiler.Retry{Max: 2, ExitCodes: []int{2}})),
			},
			outcomes: map[string][]Outcome{"sys": {sysFail}, "script": {fail}, "code": {fail}, "code2": {fail2}},
			wantFinal: map[string]string{"(pipeline)": "failed", "sys": "success x2", "script": "failed",
				"code": "failed", "code2": "success x2"},
		},
		{
			name:       "a resource group runs one job at a time",
			jobs:       []*compiler.Job{pj("d1@deploy", group("prod")), pj("d2@deploy", group("prod")), pj("d3@deploy")},
			wantEvents: []string{"+d1", "+d3", "d1=success", "+d2", "d3=success", "d2=success"},
			wantFinal:  map[string]string{"(pipeline)": "success", "d1": "success", "d2": "success", "d3": "success"},
		},
		{
			name:        "cancel stops the pipeline: nothing more starts, always jobs included",
			jobs:        []*compiler.Job{pj("b@build"), pj("b2@build"), pj("t@test"), pj("report@deploy", when("always")), pj("gate@deploy", manual(true))},
			cancelAfter: "b",
			wantFinal: map[string]string{"(pipeline)": "canceled", "b": "canceled", "b2": "success",
				"t": "canceled", "report": "canceled", "gate": "canceled"},
		},
		{
			name:     "a canceled job skips later on_success and always jobs",
			jobs:     []*compiler.Job{pj("b@build"), pj("t@test"), pj("report@test", when("always"))},
			outcomes: map[string][]Outcome{"b": {{Status: StatusCanceled}}},
			wantFinal: map[string]string{"(pipeline)": "canceled", "b": "canceled", "t": "skipped",
				"report": "skipped"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewScheduler(newPipeline(tc.jobs...), tc.play)
			if err != nil {
				t.Fatal(err)
			}
			if tc.outcomes == nil {
				tc.outcomes = map[string][]Outcome{}
			}
			events, final := simulate(t, s, tc.outcomes, tc.cancelAfter)
			if tc.wantEvents != nil {
				if d := cmp.Diff(tc.wantEvents, events); d != "" {
					t.Errorf("events -want +got:\n%s", d)
				}
			}
			if d := cmp.Diff(tc.wantFinal, final); d != "" {
				t.Errorf("final states -want +got:\n%s\nevents: %v", d, events)
			}
		})
	}
}

func TestSchedulerRefusesUnknownPlayedJob(t *testing.T) {
	_, err := NewScheduler(newPipeline(pj("b@build")), []string{"b", "nope"})
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("NewScheduler error = %v, want one naming the unknown job", err)
	}
}

func TestSchedulerNotes(t *testing.T) {
	s, err := NewScheduler(newPipeline(pj("b@build"), pj("d1@deploy", group("prod")), pj("d2@deploy", group("prod")), pj("m@deploy", manual(true))), nil)
	if err != nil {
		t.Fatal(err)
	}
	first := s.Next()
	if d := cmp.Diff([]Transition{{Name: "b", Status: StatusPending, Attempt: 1}}, first); d != "" {
		t.Fatalf("first Next -want +got:\n%s", d)
	}
	s.Finished("b", ok)
	want := []Transition{
		{Name: "m", Status: StatusManual, Note: "not played: name it with --job to run it"},
		{Name: "d1", Status: StatusPending, Attempt: 1},
		{Name: "d2", Status: StatusWaitingForResource, Note: "resource_group prod is held by d1"},
	}
	if d := cmp.Diff(want, s.Next()); d != "" {
		t.Errorf("second Next -want +got:\n%s", d)
	}
	if d := cmp.Diff([]Transition(nil), s.Next()); d != "" {
		t.Errorf("Next without a change -want +got:\n%s", d)
	}
}
