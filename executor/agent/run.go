package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/jobspec"
)

// Job statuses as CI_JOB_STATUS spells them in after_script.
const (
	statusSuccess  = "success"
	statusFailed   = "failed"
	statusCanceled = "canceled"
)

const defaultAfterScriptTimeout = 5 * time.Minute

// Run is `kuberunner step run`: before_script and script, after_script, artifacts and
// cache. Cancelling ctx (the command wires SIGTERM to it) stops the script's process group,
// then still runs after_script and uploads when:always and when:on_failure artifacts.
// It returns the process exit code: the script's, or 1 with a jobpod.Failure in the termination
// log when something else failed.
func Run(ctx context.Context, o Options) int {
	a, err := load(o)
	if err != nil {
		return loadFailed(o, err)
	}
	if a.trace != nil {
		var stop context.CancelFunc
		ctx, stop = watchCancel(ctx, a.opts.TraceDir)
		defer stop()
	}
	var code int
	if f := a.prepared(); f != nil {
		code = a.record(f) // the job fails as it would had prepare been a container of its own
	} else {
		code = a.run(ctx)
	}
	a.close()
	if a.trace != nil {
		// Last: the shipper takes the verdict as the sign that the output is complete.
		v := jobpod.Verdict{ExitCode: code, Stopped: ctx.Err() != nil && !errors.Is(context.Cause(ctx), errJobCanceled)}
		if a.failure != nil {
			v.Reason, v.Message = a.failure.Reason, a.failure.Message
		}
		if err := writeVerdict(a.opts.TraceDir, v); err != nil {
			fmt.Fprintf(os.Stderr, "%v\n", err)
		}
	}
	return code
}

// prepared is prepare's failure when the shipper's hook ran it and it failed (its error is
// in the job log already) or never finished; nil otherwise.
func (a *agent) prepared() *jobpod.Failure {
	if a.trace == nil || !a.cfg.PrepareInShipper {
		return nil
	}
	a.replayPrepare()
	f, finished := prepareOutcome(a.opts.TraceDir)
	if !finished {
		err := errors.New("the job's prepare step (sources, artifacts, cache) did not finish before the job started")
		a.errorf("%v", err)
		f = &jobpod.Failure{Reason: string(jobspec.RunnerSystemFailure), Message: err.Error()}
	}
	return f
}

func (a *agent) run(ctx context.Context) int {
	// The tools prepare copied in (kuberunner build and tag, kubectl) are on PATH, after
	// the image's own so that an image's kubectl wins.
	if err := os.Setenv("PATH", os.Getenv("PATH")+string(os.PathListSeparator)+a.opts.BinDir); err != nil {
		return a.fail(jobspec.RunnerSystemFailure, err)
	}
	return a.runSteps(ctx)
}

func (a *agent) runSteps(ctx context.Context) int {
	// prepare made it; with GIT_STRATEGY=none and nothing to restore it may still be missing.
	if err := os.MkdirAll(a.cfg.ProjectDir, 0o777); err != nil {
		return a.fail(jobspec.RunnerSystemFailure, fmt.Errorf("create project directory: %w", err))
	}
	vars, err := a.variables()
	if err != nil {
		return a.fail(jobspec.RunnerSystemFailure, err)
	}
	// Work that must happen after a cancel gets a context that is not cancelled with ctx.
	after := context.WithoutCancel(ctx)

	code, status, failure := a.mainScript(ctx, vars)
	a.afterScript(after, status)

	if err := a.uploadArtifacts(after, vars, status); err != nil && failure == nil {
		failure = &agentError{jobspec.RunnerSystemFailure, err}
	}
	if status != statusCanceled {
		if err := a.saveCaches(after, vars, status); err != nil {
			a.warnf("%v", err)
		}
	}
	// The verdict line ("Job succeeded", "ERROR: Job failed: exit code N") is the runner's,
	// as in gitlab-runner: it also knows of failures the agent cannot see.
	if failure != nil {
		return a.fail(failure.reason, failure.err)
	}
	return code
}

type agentError struct {
	reason jobspec.FailureReason
	err    error
}

// mainScript runs the script step (GitLab sends before_script and script as one step) under
// its timeout.
func (a *agent) mainScript(ctx context.Context, vars jobspec.Variables) (code int, status string, failure *agentError) {
	st := a.job.StepByName(jobspec.StepScript)
	if st == nil || len(st.Script) == 0 {
		return 0, statusSuccess, nil
	}
	timeout := time.Duration(st.Timeout) * time.Second
	if timeout <= 0 {
		timeout = time.Duration(a.job.RunnerInfo.Timeout) * time.Second
	}
	sctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var err error
	oom := watchOOM(a.cgroupDir())
	_ = a.section("step_script", "Executing \"step_script\" stage of the job script", func() error {
		code, err = script{
			name: "step_script", lines: st.Script, entrypoint: a.cfg.Entrypoint,
			dir: a.cfg.ProjectDir, tmp: a.tmpDir(), vars: vars, log: a.log,
		}.run(sctx)
		return err
	})
	switch {
	case err != nil:
		return 1, statusFailed, &agentError{jobspec.RunnerSystemFailure, err}
	case errors.Is(context.Cause(ctx), errJobCanceled):
		a.errorf("The script was stopped: the job was canceled")
		return code, statusCanceled, &agentError{jobspec.ScriptFailure, errJobCanceled}
	case ctx.Err() != nil:
		// SIGTERM: the runner's cancel, or a drain or delete nobody told the runner of;
		// the runner, which sees the pod, says which.
		a.errorf("The script was stopped: its pod is being deleted")
		return code, statusCanceled, nil
	case errors.Is(sctx.Err(), context.DeadlineExceeded):
		return code, statusFailed, &agentError{jobspec.JobExecutionTimeout, fmt.Errorf("the script ran longer than its timeout of %s", timeout)}
	case code != 0:
		if struck, limit := oom.struck(); struck {
			a.errorf("The script ran out of memory: the kernel killed a process at the container's memory limit (%s)", cmp.Or(limit, "unknown"))
		}
		return code, statusFailed, nil
	}
	return 0, statusSuccess, nil
}

// afterScript always runs (GitLab's rule), with CI_JOB_STATUS and its own timeout;
// its failure is only a warning.
func (a *agent) afterScript(ctx context.Context, status string) {
	st := a.job.StepByName(jobspec.StepAfterScript)
	if st == nil || len(st.Script) == 0 {
		return
	}
	vars, err := a.variables(jobspec.Variable{Key: "CI_JOB_STATUS", Value: status, Public: true})
	if err != nil {
		a.warnf("after_script: %v", err)
		return
	}
	timeout := defaultAfterScriptTimeout
	if v := vars.Get("AFTER_SCRIPT_TIMEOUT"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			timeout = d
		} else {
			a.warnf("AFTER_SCRIPT_TIMEOUT=%q is not a duration; using %s", v, timeout)
		}
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_ = a.section("after_script", "Running after_script", func() error {
		code, err := script{
			name: "after_script", lines: st.Script, entrypoint: a.cfg.Entrypoint,
			dir: a.cfg.ProjectDir, tmp: a.tmpDir(), vars: vars, log: a.log,
		}.run(actx)
		switch {
		case err != nil:
			a.warnf("after_script: %v", err)
		case actx.Err() != nil:
			a.warnf("after_script timed out after %s", timeout)
		case code != 0:
			a.warnf("after_script failed with exit code %d", code)
		}
		return nil
	})
}
