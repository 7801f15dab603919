package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/trace"
)

// killGrace is how long a stopped script's processes get between SIGTERM and SIGKILL.
const killGrace = 10 * time.Second

// shell picks bash when the image has it, else sh.
func shell() string {
	if p, err := exec.LookPath("bash"); err == nil {
		return p
	}
	return "sh"
}

// pipefail turns pipefail on in every shell that has it (bash, busybox and recent dash),
// as gitlab-runner does: a failing command on the left of a pipe fails the script. The
// probe runs in a subshell because a shell without the option exits on "set -o pipefail".
const pipefail = "if (set -o pipefail) 2>/dev/null; then set -o pipefail; fi\n"

// renderScript writes lines as a shell script with gitlab-runner's semantics: each command
// is echoed in green as "$ command", then run; the first failing command ends the script
// with its exit code (set -e), a failure anywhere in a pipeline included (pipefail).
func renderScript(lines []string, debugTrace bool) string {
	var b strings.Builder
	b.WriteString("set -e\n")
	b.WriteString(pipefail)
	if debugTrace {
		b.WriteString("set -x\n")
	}
	for _, line := range lines {
		shown := line
		if first, _, multi := strings.Cut(strings.TrimSpace(line), "\n"); multi {
			shown = first + " # collapsed multi-line command"
		}
		fmt.Fprintf(&b, "printf '%%s\\n' %s\n", shellQuote(trace.ANSIBoldGreen+"$ "+shown+trace.ANSIReset))
		b.WriteString(line)
		b.WriteString("\n")
	}
	return b.String()
}

// shellQuote makes s one single-quoted shell word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// script is one shell run: a step's lines in the project directory.
type script struct {
	name       string // file name, and what the log calls it
	lines      []string
	entrypoint []string // the job image's entrypoint override; the shell runs as its arguments
	dir, tmp   string
	vars       jobspec.Variables
	log        io.Writer
}

// run runs the script in its own process group and returns its exit code. When ctx ends
// the whole group gets SIGTERM, then SIGKILL after killGrace; the exit code is then
// 128+signal. err is set only when the script could not be started or waited for.
func (s script) run(ctx context.Context) (int, error) {
	if err := os.MkdirAll(s.tmp, 0o700); err != nil {
		return -1, fmt.Errorf("create %s: %w", s.tmp, err)
	}
	sh := shell()
	body := renderScript(s.lines, s.vars.Get("CI_DEBUG_TRACE") == "true")
	path := filepath.Join(s.tmp, s.name+".sh")
	if err := os.WriteFile(path, []byte(body), 0o700); err != nil {
		return -1, fmt.Errorf("write script: %w", err)
	}
	var args []string
	for _, e := range s.entrypoint {
		if e != "" { // entrypoint: [""] clears the image's entrypoint
			args = append(args, e)
		}
	}
	args = append(args, sh, path)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = s.dir, environ(s.vars), s.log, s.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A background process the script left running keeps the output pipe open; do not
	// wait for it longer than this once the shell itself has exited.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return -1, fmt.Errorf("start %s: %w", sh, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case err = <-done:
		case <-time.After(killGrace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			err = <-done
		}
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit):
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return exit.ExitCode(), nil
	case errors.Is(err, exec.ErrWaitDelay):
		return cmd.ProcessState.ExitCode(), nil
	default:
		return -1, fmt.Errorf("wait for %s: %w", sh, err)
	}
}
