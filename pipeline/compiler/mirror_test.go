package compiler

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

// Mirrored files count toward the include limit as any other include: a project file
// that names itself again and again stops at 150, as on GitLab.
func TestMirroredIncludesCountTowardTheLimit(t *testing.T) {
	loop := "include:\n" + strings.Repeat("  - project: group/loop\n    file: loop.yml\n", 80) + "x:\n  script: echo\n"
	in := Input{
		FS:      fstest.MapFS{".gitlab-ci.yml": {Data: []byte("include:\n  - project: group/loop\n    file: loop.yml\n  - local: a.yml\n")}, "a.yml": {Data: []byte(loop)}},
		File:    ".gitlab-ci.yml",
		Mirrors: map[string]fs.FS{"group/loop": fstest.MapFS{"loop.yml": {Data: []byte(loop)}}},
	}
	_, err := Compile(in)
	if err == nil || !strings.Contains(err.Error(), "maximum of 150 includes") {
		t.Fatalf("Compile error = %v, want the include limit", err)
	}
}
