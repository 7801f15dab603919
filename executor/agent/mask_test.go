package agent

import (
	"context"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kuberunner/kuberunner/jobspec"
)

const (
	maskedValue = "my-secret-value"
	urlValue    = "p@ss w/rd&x"
)

// maskedJob is a job with masked variables and a job token prefix to mask.
func maskedJob(script ...string) *jobspec.Job {
	j := addVars(baseJob(script...),
		jobspec.Variable{Key: "SECRET", Value: maskedValue, Masked: true},
		jobspec.Variable{Key: "URL_SECRET", Value: urlValue, Masked: true},
	)
	j.Features.TokenMaskPrefixes = []string{"glrt-"}
	return j
}

// secretForms are what must never reach the agent's output for maskedJob.
func secretForms() []string {
	return []string{
		maskedValue, "job-token-s3cr3t", urlValue,
		url.QueryEscape(urlValue), url.PathEscape(urlValue),
		"glrt-t0k3nbody", "glpat-abcdefgh",
	}
}

func assertMasked(t *testing.T, what, out string) {
	t.Helper()
	for _, s := range secretForms() {
		if strings.Contains(out, s) {
			t.Errorf("%s shows %q:\n%s", what, s, out)
		}
	}
}

func TestRunMasksTheLog(t *testing.T) {
	tests := []struct {
		name    string
		job     *jobspec.Job
		wantLog []string
	}{
		{
			name:    "printed directly",
			job:     maskedJob(`echo "value=$SECRET token=$CI_JOB_TOKEN"`),
			wantLog: []string{"value=[MASKED] token=[MASKED]\n"},
		},
		{
			name:    "split across two writes",
			job:     maskedJob(`printf 'x my-sec'; sleep 0.3; printf 'ret-value y\n'`),
			wantLog: []string{"x [MASKED] y\n"},
		},
		{
			name:    "split across stdout and stderr",
			job:     maskedJob(`printf 'x my-secr'; sleep 0.3; printf 'et-value y\n' >&2`),
			wantLog: []string{"x [MASKED] y\n"},
		},
		{
			name: "URL-encoded",
			job: maskedJob(`printf 'q=%s p=%s\n' "$(printf %s "$URL_SECRET" | sed 's/@/%40/; s/ /+/; s#/#%2F#; s/&/%26/')" ` +
				`"$(printf %s "$URL_SECRET" | sed 's/ /%20/; s#/#%2F#')"`),
			wantLog: []string{"q=[MASKED] p=[MASKED]\n"},
		},
		{
			name:    "token prefixes: the job's and the default",
			job:     maskedJob(`echo glrt-t0k3nbody glpat-abcdefgh`),
			wantLog: []string{"glrt-[MASKED] glpat-[MASKED]\n"},
		},
		{
			name:    "after_script",
			job:     withAfterScript(maskedJob("true"), `echo "after=$SECRET"`),
			wantLog: []string{"after=[MASKED]\n"},
		},
		{
			name: "the agent's own lines",
			job: withAfterScript(addVars(maskedJob("true"),
				jobspec.Variable{Key: "AFTER_SCRIPT_TIMEOUT", Value: maskedValue, Masked: true}), "true"),
			wantLog: []string{`AFTER_SCRIPT_TIMEOUT="[MASKED]" is not a duration`},
		},
		{
			name:    "the end of the output is released",
			job:     maskedJob(`printf 'tail my-secret-valu'`),
			wantLog: []string{"tail my-secret-valu"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.job)
			Run(context.Background(), e.options())
			log := e.log.String()
			assertMasked(t, "log", log)
			for _, s := range tc.wantLog {
				if !strings.Contains(log, s) {
					t.Errorf("log lacks %q:\n%s", s, log)
				}
			}
		})
	}
}

// TestRunLeavesUnmaskedOutputAlone: output with no secret, but with bytes that begin one,
// near misses, bare token prefixes and invalid UTF-8, reaches the log byte for byte.
func TestRunLeavesUnmaskedOutputAlone(t *testing.T) {
	rnd := rand.New(rand.NewPCG(9, 9))
	var b strings.Builder
	for i := range 20000 {
		switch i % 500 {
		case 0:
			b.WriteString("my-secret-valu\n")
		case 1:
			b.WriteString("glpat- glrt-\n")
		case 2:
			b.WriteString("job-token-s3cr3 p%40ss\xff\xfe")
		}
		b.WriteByte(byte(rnd.IntN(256)))
	}
	b.WriteString("ends inside my-secr")
	data := b.String()
	for _, s := range secretForms() {
		if strings.Contains(data, s) {
			t.Fatalf("test data holds %q", s)
		}
	}
	file := filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, maskedJob(`cat `+file))
	if code := Run(context.Background(), e.options()); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, e.log.String())
	}
	if !strings.Contains(e.log.String(), data) {
		t.Error("the script's output did not reach the log unchanged")
	}
}

func TestRunMasksTheTerminationMessage(t *testing.T) {
	job := maskedJob("true")
	job.Artifacts = []jobspec.Artifact{{Name: "a", Paths: []string{"../" + maskedValue}, When: jobspec.WhenOnSuccess, ArtifactType: "archive", ArtifactFormat: "zip"}}
	e := newEnv(t, job)
	Run(context.Background(), e.options())
	f := e.failure(t)
	if f == nil {
		t.Fatalf("no failure recorded; log:\n%s", e.log.String())
	}
	assertMasked(t, "termination message", f.Message)
	assertMasked(t, "log", e.log.String())
	if !strings.Contains(f.Message, "[MASKED]") {
		t.Errorf("termination message %q does not show where the secret was", f.Message)
	}
}

func TestPrepareMasksGitOutput(t *testing.T) {
	// A repository path holding the secret: git and the agent both print it.
	missing := filepath.Join(t.TempDir(), maskedValue, "repo.git")
	job := gitJob("file://"+missing, "0123456789abcdef0123456789abcdef01234567",
		jobspec.Variable{Key: "SECRET", Value: maskedValue, Masked: true})
	e := newEnv(t, job)
	if code := Prepare(context.Background(), e.options()); code == 0 {
		t.Fatalf("prepare of a missing repository succeeded:\n%s", e.log.String())
	}
	log := e.log.String()
	assertMasked(t, "log", log)
	for _, want := range []string{"Fetching changes from file://", "fatal:"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}
