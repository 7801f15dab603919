package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunNamesAnOOMKill: a script whose process the kernel killed at the memory limit fails
// saying so, with the limit, not only "Killed" and exit code 137. The test plays the kernel
// through the cgroup files; the script "is killed" by raising the count itself.
func TestRunNamesAnOOMKill(t *testing.T) {
	v2 := map[string]string{"memory.events": "low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n", "memory.max": "67108864\n"}
	v1 := map[string]string{"memory/memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n", "memory/memory.limit_in_bytes": "67108864\n"}
	for _, tc := range []struct {
		name, script string
		files        map[string]string
		wantOOM      bool
	}{
		{"oom-killed, cgroup v2", `echo "oom_kill 1" > "$CG/memory.events"; exit 137`, v2, true},
		{"oom-killed, cgroup v1", `printf 'under_oom 0\noom_kill 2\n' > "$CG/memory/memory.oom_control"; exit 137`, v1, true},
		{"plain failure", `exit 137`, v2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, baseJob(tc.script))
			cg := filepath.Join(e.root, "cgroup")
			if err := os.MkdirAll(e.project, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(cg, "memory"), 0o755); err != nil {
				t.Fatal(err)
			}
			for name, data := range tc.files {
				if err := os.WriteFile(filepath.Join(cg, name), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("CG", cg)
			if code := Run(context.Background(), e.options()); code != 137 {
				t.Errorf("exit code %d, want 137", code)
			}
			log := e.log.String()
			const want = "The script ran out of memory: the kernel killed a process at the container's memory limit (64Mi)"
			if got := strings.Contains(log, want); got != tc.wantOOM {
				t.Errorf("log says %q: %v, want %v; log:\n%s", want, got, tc.wantOOM, log)
			}
		})
	}
}
