package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// A bad --include-mirror is refused by run, lint and show alike, naming the flag and the
// value, before anything is compiled or run.
func TestIncludeMirrorRefusesBadValues(t *testing.T) {
	dir := newRepo(t, "job:\n  script: echo\n", "first")
	file := filepath.Join(dir, ".gitlab-ci.yml")
	for _, value := range []string{"group/project", "group/project=", "=" + dir, "templates=" + file, "templates=" + filepath.Join(dir, "missing")} {
		for _, cmd := range []string{"run", "lint", "show"} {
			out, errOut, code := runCLI(t, "pipeline", cmd, "--dir", dir, "--include-mirror", value)
			if want := `--include-mirror "` + value + `"`; code == 0 || !strings.Contains(out+errOut, want) {
				t.Errorf("pipeline %s --include-mirror %s: exit %d, output %q; want a failure naming %s", cmd, value, code, out+errOut, want)
			}
		}
	}
}
