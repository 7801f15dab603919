package runner

import (
	"fmt"
	"io"

	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/trace"
)

// ansiClear starts gitlab-runner's own lines: it clears what a carriage return left behind.
const ansiClear = "\x1b[0K"

// writeHeader writes the runner's opening lines. The runner token stays out: the trace is
// readable by everyone with access to the job.
func writeHeader(w io.Writer, version, runner, systemID string) {
	fmt.Fprintf(w, "%sRunning with kuberunner %s%s\n", ansiClear, version, trace.ANSIReset)
	fmt.Fprintf(w, "%s  on %s, system ID: %s%s\n", ansiClear, runner, systemID, trace.ANSIReset)
}

// writeFooter writes the verdict line gitlab-runner ends every trace with.
func writeFooter(w io.Writer, res jobspec.Result) {
	if res.Success() {
		fmt.Fprintf(w, "%sJob succeeded%s\n", trace.ANSIBoldGreen, trace.ANSIReset)
		return
	}
	fmt.Fprintf(w, "%sERROR: Job failed%s: %s%s\n", trace.ANSIBoldRed, failureKind(res.Reason), failureMessage(res), trace.ANSIReset)
}

func failureKind(r jobspec.FailureReason) string {
	switch r {
	case jobspec.RunnerSystemFailure:
		return " (system failure)"
	case jobspec.ScriptFailure, jobspec.UnknownFailure:
		return ""
	}
	return fmt.Sprintf(" (%s)", r)
}

func failureMessage(res jobspec.Result) string {
	switch {
	case res.Err != nil:
		return res.Err.Error()
	case res.Reason == jobspec.ScriptFailure:
		return fmt.Sprintf("exit code %d", res.ExitCode)
	}
	return string(res.Reason)
}
