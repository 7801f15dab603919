package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/trace"
)

// ArtifactClient is the part of the GitLab client the agent needs; *gitlab.Client has it.
type ArtifactClient interface {
	DownloadArtifacts(ctx context.Context, jc gitlab.JobCredentials, w io.Writer) error
	UploadArtifacts(ctx context.Context, jc gitlab.JobCredentials, opts gitlab.ArtifactsOptions, r io.Reader) error
}

// Options are the agent's surroundings; zero values mean the pod's layout.
type Options struct {
	// JobDir holds jobpod.JobFile and jobpod.ConfigFile (default jobpod.JobDir).
	JobDir string
	// BinDir receives the agent's binary in prepare (default jobpod.BinDir).
	BinDir string
	// TerminationLog receives a jobpod.Failure when the job fails for a reason other than
	// the script (default jobpod.TerminationLog).
	TerminationLog string
	// TraceDir holds the pod's trace files (default jobpod.TraceDir).
	TraceDir string
	// Log is the job log (default: the trace file when the runner gave trace settings,
	// and the container log).
	Log io.Writer
	// Artifacts talks to GitLab; nil skips downloads and uploads with a warning.
	Artifacts ArtifactClient
	// CgroupDir is the container's cgroup, where out-of-memory kills are counted
	// (default /sys/fs/cgroup).
	CgroupDir string
	// Cache is the cache store; nil means a DirStore in jobpod.Config.CacheDir, else an
	// HTTPStore at jobpod.Config.CacheURL, else no cache.
	Cache Store
	// Stdout is the container log, which gets a copy of the masked job log (default
	// os.Stdout).
	Stdout io.Writer
}

func (o *Options) defaults() {
	if o.JobDir == "" {
		o.JobDir = jobpod.JobDir
	}
	if o.BinDir == "" {
		o.BinDir = jobpod.BinDir
	}
	if o.TerminationLog == "" {
		o.TerminationLog = jobpod.TerminationLog
	}
	if o.TraceDir == "" {
		o.TraceDir = jobpod.TraceDir
	}
}

// agent is one invocation: the job, the runner's config and the log.
type agent struct {
	job   *jobspec.Job
	cfg   jobpod.Config
	opts  Options
	log   io.Writer // masked: everything the agent and its children print goes through it
	cache Store
	trace *traceFile // the pod's trace file, when the pod ships its trace
	// failure is why the job failed other than by its script's exit code.
	failure *jobpod.Failure
}

// load reads the job and masks the log with its secrets: the container log is read by
// anyone with pods/log and kept in files on the node, so no secret may reach it, not even
// in the output of git or of the script. The runner masks the trace again, which leaves
// masked text as it is. Call the returned agent's close when done.
func load(o Options) (*agent, error) {
	o.defaults()
	a := &agent{opts: o, job: new(jobspec.Job), cache: o.Cache}
	if err := readJSON(filepath.Join(o.JobDir, jobpod.JobFile), a.job); err != nil {
		return nil, err
	}
	if err := readJSON(filepath.Join(o.JobDir, jobpod.ConfigFile), &a.cfg); err != nil {
		return nil, err
	}
	out := o.Log
	if out == nil {
		out = a.stdout()
		if a.cfg.Trace != nil {
			tf, err := openTraceFile(o.TraceDir, a.cfg.Trace)
			if err != nil {
				return nil, err
			}
			a.trace, out = tf, teeLog(tf, out)
		}
	}
	a.log = trace.NewWriter(out, a.job.Masks(), a.job.Features.TokenMaskPrefixes)
	switch {
	case a.cache != nil:
	case a.cfg.CacheDir != "":
		a.cache = DirStore{Dir: a.cfg.CacheDir}
	case a.cfg.CacheURL != "":
		a.cache = HTTPStore{URL: a.cfg.CacheURL, Token: a.job.Token}
	}
	return a, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// close writes what the masked log held back: the output's end is no secret's beginning.
func (a *agent) close() {
	if w, ok := a.log.(*trace.Writer); ok {
		_ = w.Flush()
	}
	if a.trace != nil {
		_ = a.trace.Close()
	}
}

// mask masks s as the log is masked, for text that leaves the pod by another way.
func (a *agent) mask(s string) string {
	if a.job == nil {
		return s
	}
	return trace.Mask(s, a.job.Masks(), a.job.Features.TokenMaskPrefixes)
}

// credentials address this job's own endpoints.
func (a *agent) credentials() gitlab.JobCredentials {
	return gitlab.JobCredentials{URL: a.cfg.GitLabURL, ID: a.job.ID, Token: a.job.Token}
}

// section runs fn inside a collapsible log section.
func (a *agent) section(name, header string, fn func() error) error {
	fmt.Fprint(a.log, trace.SectionStart(name, trace.ANSIBoldCyan+header+trace.ANSIReset, false))
	err := fn()
	fmt.Fprint(a.log, trace.SectionEnd(name))
	return err
}

func (a *agent) warnf(format string, args ...any) {
	fmt.Fprintf(a.log, trace.ANSIBoldYellow+"WARNING: "+format+trace.ANSIReset+"\n", args...)
}

func (a *agent) errorf(format string, args ...any) {
	fmt.Fprintf(a.log, trace.ANSIBoldRed+"ERROR: "+format+trace.ANSIReset+"\n", args...)
}

// fail records why the job failed for the executor and returns the exit code to use.
func (a *agent) fail(reason jobspec.FailureReason, err error) int {
	a.errorf("%v", err)
	return a.record(&jobpod.Failure{Reason: string(reason), Message: a.mask(err.Error())})
}

// record leaves f, already in the job log, as the container's termination message: it is
// in the pod's status, for anyone who may get pods, so its message is masked.
func (a *agent) record(f *jobpod.Failure) int {
	a.failure = f
	b, _ := json.Marshal(a.failure)
	if werr := os.WriteFile(a.opts.TerminationLog, b, 0o644); werr != nil {
		a.warnf("write termination message: %v", werr)
	}
	return 1
}

// loadFailed reports an agent that could not even read its job.
func loadFailed(o Options, err error) int {
	o.defaults()
	if o.Log == nil {
		o.Log = os.Stdout
	}
	return (&agent{opts: o, log: o.Log}).fail(jobspec.RunnerSystemFailure, err)
}

// stdout is the container log (Options.Stdout, os.Stdout by default).
func (a *agent) stdout() io.Writer {
	if a.opts.Stdout != nil {
		return a.opts.Stdout
	}
	return os.Stdout
}
