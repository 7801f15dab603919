package agent

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPipefail runs the rendered script with every shell this machine has: where the shell
// knows pipefail, `false | true` fails the script; where it does not (older dash), the
// probe neither ends the script nor prints anything.
func TestPipefail(t *testing.T) {
	shells := []struct {
		name     string
		argv     []string
		pipefail bool // the shell is known to support it
	}{
		{"bash", []string{"bash"}, true},
		{"busybox sh", []string{"busybox", "sh"}, true},
		{"dash", []string{"dash"}, false},
		{"sh", []string{"sh"}, false},
	}
	for _, sh := range shells {
		t.Run(sh.name, func(t *testing.T) {
			if _, err := exec.LookPath(sh.argv[0]); err != nil {
				t.Skipf("no %s here", sh.argv[0])
			}
			// Whatever the test expects, the shell itself says whether it has the option.
			has := exec.Command(sh.argv[0], append(sh.argv[1:], "-c", "set -o pipefail")...).Run() == nil
			if sh.pipefail && !has {
				t.Fatalf("%s has no pipefail", sh.name)
			}
			out, code := runRendered(t, sh.argv, "echo start", "false | true", "echo after")
			wantOut, wantCode := "start\nafter\n", 0
			if has {
				wantOut, wantCode = "start\n", 1
			}
			if out != wantOut || code != wantCode {
				t.Errorf("output %q, exit %d; want %q, exit %d", out, code, wantOut, wantCode)
			}
			if out, code := runRendered(t, sh.argv, "true | true", "echo ok | cat"); out != "ok\n" || code != 0 {
				t.Errorf("passing pipeline: output %q, exit %d", out, code)
			}
		})
	}
}

// runRendered runs lines as the agent renders them and returns the output without the
// echoed commands, and the exit code.
func runRendered(t *testing.T, argv []string, lines ...string) (string, int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "script.sh")
	if err := os.WriteFile(path, []byte(renderScript(lines, false)), 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(argv[0], append(argv[1:], path)...).CombinedOutput()
	code := 0
	if exit := (*exec.ExitError)(nil); errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range strings.SplitAfter(string(out), "\n") {
		if !strings.Contains(l, "$ ") {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, ""), code
}
