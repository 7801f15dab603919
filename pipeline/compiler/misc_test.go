package compiler

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"3600", time.Hour, false},
		{"30m", 30 * time.Minute, false},
		{"1h 30m", 90 * time.Minute, false},
		{"1 hour 30 minutes", 90 * time.Minute, false},
		{"2 hours and 10 minutes", 130 * time.Minute, false},
		{"1.5 days", 36 * time.Hour, false},
		{"1 week", 7 * 24 * time.Hour, false},
		{"10 sec", 10 * time.Second, false},
		{"", 0, true},
		{"forever", 0, true},
		{"10 parsecs", 0, true},
		{"1 2", 0, true},
	}
	for _, tc := range tests {
		got, err := ParseDuration(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParseDuration(%q) error = %v, want error: %v", tc.in, err, tc.err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestFnmatch(t *testing.T) {
	tests := []struct {
		glob, path string
		want       bool
	}{
		{"*.go", "main.go", true},
		{"*.go", "cmd/main.go", false},
		{"**/*.go", "main.go", true},
		{"**/*.go", "a/b/c.go", true},
		{"src/**/*.go", "src/x.go", true},
		{"src/**/*.go", "src/a/b/x.go", true},
		{"src/**", "src/a/b", false}, // ** not followed by / is a plain *
		{"src/**", "src/a", true},
		{"*", ".hidden", true}, // FNM_DOTMATCH
		{"docs/*.{md,rst}", "docs/a.rst", true},
		{"docs/*.{md,rst}", "docs/a.txt", false},
		{"file?.txt", "file1.txt", true},
		{"file[0-9].txt", "file7.txt", true},
		{"file[!0-9].txt", "file7.txt", false},
		{"a.b", "axb", false},
	}
	for _, tc := range tests {
		if got := fnmatch(tc.glob, tc.path); got != tc.want {
			t.Errorf("fnmatch(%q, %q) = %v, want %v", tc.glob, tc.path, got, tc.want)
		}
	}
}

func TestWildcard(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"configs/*.yml", "configs/a.yml", true},
		{"configs/*.yml", "configs/sub/a.yml", false},
		{"configs/**.yml", "configs/sub/a.yml", true},
		{"configs/**.yml", "configs/a.yml", true},
		{"configs/**/*.yml", "configs/a.yml", false},
		{"configs/**/*.yml", "configs/sub/a.yml", true},
		{"a+b/*.yml", "a+b/x.yml", true},
	}
	for _, tc := range tests {
		re, err := wildcardRegexp(tc.pattern)
		if err != nil {
			t.Fatalf("wildcardRegexp(%q): %v", tc.pattern, err)
		}
		if got := re.MatchString(tc.path); got != tc.want {
			t.Errorf("%q matches %q = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
}

func TestErrorListSortedAndPrinted(t *testing.T) {
	l := ErrorList{
		{File: "b.yml", Line: 1, Msg: "late file"},
		{File: "a.yml", Line: 9, Job: "x", Msg: "second"},
		{File: "a.yml", Line: 2, Msg: "first"},
		{File: "a.yml", Line: 2, Msg: "first"},
		{File: "a.yml", Msg: "no line"},
	}
	want := "a.yml: no line\na.yml:2: first\na.yml:9: job x: second\nb.yml:1: late file"
	if d := cmp.Diff(want, l.sorted().Error()); d != "" {
		t.Errorf("ErrorList -want +got:\n%s", d)
	}
}

func TestCompileNeedsInput(t *testing.T) {
	if _, err := Compile(Input{File: ".gitlab-ci.yml"}); err == nil {
		t.Error("Compile without FS succeeded")
	}
	fsys := fstest.MapFS{}
	_, err := Compile(Input{FS: fsys, File: ".gitlab-ci.yml"})
	if err == nil || !strings.Contains(err.Error(), ".gitlab-ci.yml: the pipeline file does not exist") {
		t.Errorf("Compile of a missing file: error %v, want one naming the file", err)
	}
}

// An alias bomb must be refused, not expanded until memory runs out.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	fsys := fstest.MapFS{".gitlab-ci.yml": {Data: []byte(b.String())}}
	_, err := Compile(Input{FS: fsys, File: ".gitlab-ci.yml"})
	if err == nil || !strings.Contains(err.Error(), "excessive aliasing") {
		t.Errorf("Compile of an alias bomb: error %v, want excessive aliasing", err)
	}
}
