package agent

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/jobspec"
)

func TestRunScript(t *testing.T) {
	tests := []struct {
		name        string
		job         *jobspec.Job
		wantCode    int
		wantLog     []string
		wantNotLog  []string
		wantFailure string
	}{
		{
			name:       "success echoes each command",
			job:        withAfterScript(baseJob("echo one", "echo 'two words'"), `echo "status=$CI_JOB_STATUS"`),
			wantCode:   0,
			wantLog:    []string{"\x1b[32;1m$ echo one\x1b[0;m\none\n", "$ echo 'two words'", "two words\n", "status=success"},
			wantNotLog: []string{"Job succeeded", "Job failed"},
		},
		{
			name:       "first failing command fails the step",
			job:        withAfterScript(baseJob("echo before", "exit 3", "echo after"), `echo "status=$CI_JOB_STATUS"`),
			wantCode:   3,
			wantLog:    []string{"before", "status=failed"},
			wantNotLog: []string{"$ echo after", "Job succeeded", "Job failed"},
		},
		{
			name:       "a failing command inside a line fails it",
			job:        baseJob("false; echo not-reached"),
			wantCode:   1,
			wantNotLog: []string{"not-reached\n"},
		},
		{
			name:       "a failing command on the left of a pipe fails the line",
			job:        baseJob("false | true; echo not-reached"),
			wantCode:   1,
			wantNotLog: []string{"not-reached\n"},
		},
		{
			name:     "after_script failure is a warning",
			job:      withAfterScript(baseJob("true"), "exit 7"),
			wantCode: 0,
			wantLog:  []string{"after_script failed with exit code 7"},
		},
		{
			name:     "multi-line command is shown collapsed",
			job:      baseJob("if true; then\n  echo inside\nfi"),
			wantCode: 0,
			wantLog:  []string{"$ if true; then # collapsed multi-line command", "inside"},
		},
		{
			name:     "variables expanded and exported, working dir is the project",
			job:      addVars(baseJob(`echo "$GREETING from $(pwd)"`), jobspec.Variable{Key: "NAME", Value: "world", Public: true}, jobspec.Variable{Key: "GREETING", Value: "hello $NAME", Public: true}),
			wantCode: 0,
			wantLog:  []string{"hello world from "},
		},
		{
			name:     "file variables are files",
			job:      addVars(baseJob(`cat "$KEY_FILE"; echo; echo "$KEY_FILE"`), jobspec.Variable{Key: "KEY_FILE", Value: "file-content-1", File: true}),
			wantCode: 0,
			wantLog:  []string{"file-content-1\n", "app.tmp/KEY_FILE"},
		},
		{
			name:        "script timeout",
			job:         withTimeout(withAfterScript(baseJob("sleep 30"), `echo "status=$CI_JOB_STATUS"`), 1),
			wantCode:    1,
			wantLog:     []string{"status=failed"},
			wantFailure: string(jobspec.JobExecutionTimeout),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.job)
			if err := os.MkdirAll(e.project, 0o755); err != nil {
				t.Fatal(err)
			}
			code := Run(context.Background(), e.options())
			log := e.log.String()
			if code != tc.wantCode {
				t.Errorf("exit code = %d, want %d; log:\n%s", code, tc.wantCode, log)
			}
			for _, s := range tc.wantLog {
				if !strings.Contains(log, s) {
					t.Errorf("log lacks %q; log:\n%s", s, log)
				}
			}
			for _, s := range tc.wantNotLog {
				if strings.Contains(log, s) {
					t.Errorf("log has %q; log:\n%s", s, log)
				}
			}
			if strings.Contains(log, "job-token-s3cr3t") {
				t.Errorf("log shows the job token:\n%s", log)
			}
			var gotFailure string
			if f := e.failure(t); f != nil {
				gotFailure = f.Reason
			}
			if gotFailure != tc.wantFailure {
				t.Errorf("failure reason = %q, want %q", gotFailure, tc.wantFailure)
			}
		})
	}
}

func addVars(j *jobspec.Job, vs ...jobspec.Variable) *jobspec.Job {
	j.Variables = append(j.Variables, vs...)
	return j
}

func withTimeout(j *jobspec.Job, seconds int) *jobspec.Job {
	j.Steps[0].Timeout = seconds
	return j
}

func TestRunArtifacts(t *testing.T) {
	job := baseJob("mkdir -p out/sub logs", "echo a > out/a.txt", "echo b > out/sub/b.bin", "echo c > out/sub/c.txt", "echo l > logs/run.log")
	job.Artifacts = []jobspec.Artifact{
		{Name: "build-$CI_JOB_ID", Paths: []string{"out/**/*.txt", "logs"}, Exclude: []string{"logs/*.tmp"}, When: jobspec.WhenOnSuccess, ArtifactType: "archive", ArtifactFormat: "zip", ExpireIn: "1 week"},
		{Name: "failure-only", Paths: []string{"out"}, When: jobspec.WhenOnFailure},
	}
	job = addVars(job, jobspec.Variable{Key: "CI_JOB_ID", Value: "42", Public: true})
	e := newEnv(t, job)
	writeFiles(t, e.project, map[string]string{"logs/skip.tmp": "x"})
	if code := Run(context.Background(), e.options()); code != 0 {
		t.Fatalf("exit code %d; log:\n%s", code, e.log.String())
	}
	if len(e.artifacts.uploads) != 1 {
		t.Fatalf("%d uploads, want 1 (when: on_failure must not upload); log:\n%s", len(e.artifacts.uploads), e.log.String())
	}
	up := e.artifacts.uploads[0]
	if d := cmp.Diff([]string{"logs/run.log", "out/a.txt", "out/sub/c.txt"}, zipNames(t, up.bytes)); d != "" {
		t.Errorf("archive entries -want +got:\n%s", d)
	}
	if up.opts.Filename != "build-42.zip" || up.opts.Format != "zip" || up.opts.Type != "archive" || up.opts.ExpireIn != "1 week" {
		t.Errorf("upload options = %+v", up.opts)
	}
	if up.jc.ID != 42 || up.jc.Token != "job-token-s3cr3t" || up.jc.URL != "https://gitlab.example.com" {
		t.Errorf("upload credentials = {%s %d token-ok:%v}", up.jc.URL, up.jc.ID, up.jc.Token == "job-token-s3cr3t")
	}
}

// TestRunArtifactsRetried: an upload lost to a 5xx or a dropped connection is sent again,
// whole; a refusal is not.
func TestRunArtifactsRetried(t *testing.T) {
	defer func(b gitlab.Backoff) { uploadBackoff = b }(uploadBackoff)
	uploadBackoff = gitlab.Backoff{Min: time.Millisecond, Max: time.Millisecond}
	transient := fmt.Errorf("POST jobs/:id/artifacts: %w: 502", gitlab.ErrTransient)
	for _, tc := range []struct {
		name     string
		fail     []error
		wantCode int
		wantUps  int
	}{
		{"two transient failures", []error{transient, transient}, 0, 1},
		{"refused", []error{gitlab.ErrForbidden}, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job := baseJob("echo a > a.txt")
			job.Artifacts = []jobspec.Artifact{{Paths: []string{"a.txt"}, When: jobspec.WhenOnSuccess}}
			e := newEnv(t, job)
			e.artifacts.failUploads = tc.fail
			if code := Run(context.Background(), e.options()); code != tc.wantCode {
				t.Fatalf("exit code %d, want %d; log:\n%s", code, tc.wantCode, e.log.String())
			}
			if len(e.artifacts.uploads) != tc.wantUps {
				t.Fatalf("%d uploads arrived, want %d; log:\n%s", len(e.artifacts.uploads), tc.wantUps, e.log.String())
			}
			if tc.wantUps > 0 {
				if d := cmp.Diff([]string{"a.txt"}, zipNames(t, e.artifacts.uploads[0].bytes)); d != "" {
					t.Errorf("archive entries -want +got:\n%s", d)
				}
				if !strings.Contains(e.log.String(), "try 3 of 8") {
					t.Errorf("the log does not say the upload was tried again:\n%s", e.log.String())
				}
			}
		})
	}
}

func TestRunArtifactsOnFailure(t *testing.T) {
	job := baseJob("echo partial > report.txt", "exit 2")
	job.Artifacts = []jobspec.Artifact{
		{Paths: []string{"report.txt"}, When: jobspec.WhenOnFailure, ArtifactType: "junit", ArtifactFormat: "gzip"},
		{Paths: []string{"report.txt"}, When: jobspec.WhenOnSuccess},
	}
	e := newEnv(t, job)
	if err := os.MkdirAll(e.project, 0o755); err != nil {
		t.Fatal(err)
	}
	if code := Run(context.Background(), e.options()); code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
	var got []string
	for _, u := range e.artifacts.uploads {
		got = append(got, u.opts.Type+" "+u.opts.Filename)
	}
	if d := cmp.Diff([]string{"junit artifacts.gz"}, got); d != "" {
		t.Errorf("uploads -want +got:\n%s", d)
	}
}

func TestRunArtifactsUntracked(t *testing.T) {
	job := baseJob("echo new > new.txt", "mkdir -p build && echo o > build/out.o")
	job.Artifacts = []jobspec.Artifact{{Untracked: true, Exclude: []string{"**/*.o"}}, {Name: "objs", Untracked: true, Paths: []string{"tracked.txt"}}}
	e := newEnv(t, job)
	initRepo(t, e.project, map[string]string{"tracked.txt": "t", ".gitignore": "build/\n"})
	if code := Run(context.Background(), e.options()); code != 0 {
		t.Fatalf("exit code %d; log:\n%s", code, e.log.String())
	}
	var got [][]string
	for _, u := range e.artifacts.uploads {
		got = append(got, zipNames(t, u.bytes))
	}
	want := [][]string{{"new.txt"}, {"build/out.o", "new.txt", "tracked.txt"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("archives -want +got:\n%s", d)
	}
}
