package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// daemonFDScript starts sleep through cluster/daemons.sh's daemon with fd 9 holding a
// lock, as a caller's `flock LOCK cluster up` does, and prints the daemon's descriptors
// and whether the lock is free while the daemon runs. It runs the helper alone: nothing
// of the cluster is started.
const daemonFDScript = `
set -Eeuo pipefail
source cluster/daemons.sh
PIDS=$DIR/pids LOGS=$DIR/logs
log() { echo "$*" >&2; }
trap 'stop_daemon sleeper 5' EXIT
exec 9>"$DIR/lock"
flock 9
exec 8<"$DIR/lock"
sleep_bin=$(readlink -f "$(command -v sleep)")
daemon sleeper "$sleep_bin" 60
pid=$(<"$PIDS/sleeper.pid")
# The subshell closes its descriptors, then execs: wait for the exec.
for _ in $(seq 100); do
	pid_alive "$pid" "$sleep_bin" && break
	sleep 0.05
done
pid_alive "$pid" "$sleep_bin"
echo "fds: $(cd /proc/$pid/fd && echo *)"
exec 9>&- 8<&-
if flock -n "$DIR/lock" true; then echo "lock: free"; else echo "lock: held"; fi
`

// TestDaemonKeepsNoCallerDescriptors: a long-lived daemon started by `cluster up` holds
// none of its caller's descriptors beyond 0-2, so a lock taken around `cluster up` is
// released when the caller releases it, not when kube-proxy stops.
func TestDaemonKeepsNoCallerDescriptors(t *testing.T) {
	for _, tool := range []string{"bash", "flock", "setsid"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s: %v", tool, err)
		}
	}
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc")
	}
	dir := t.TempDir()
	cmd := exec.Command("bash", "-c", daemonFDScript)
	cmd.Env = append(os.Environ(), "DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		logs, _ := os.ReadFile(filepath.Join(dir, "logs", "sleeper.log"))
		t.Fatalf("script: %v\n%s\nsleeper.log:\n%s", err, out, logs)
	}
	for _, want := range []string{"fds: 0 1 2\n", "lock: free\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
