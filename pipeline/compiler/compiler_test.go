package compiler

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/cases")

// testGit is the commit every golden case compiles for, unless its vars.txt says more.
var testGit = GitState{
	Sha:           "1234567890abcdef1234567890abcdef12345678",
	BeforeSha:     "abcdefabcdefabcdefabcdefabcdefabcdefabcd",
	Branch:        "main",
	Message:       "Add the widget\n\nIt was missing.",
	DefaultBranch: "main",
	ProjectName:   "project",
	ProjectPath:   "group/project",
}

// Each directory of testdata/cases is a repository: .gitlab-ci.yml and the files it
// includes, with an optional vars.txt (KEY=VALUE to set, !KEY to unset) and changed.txt
// (one changed path per line), and its expected.json or expected.err. Its mirrors/
// directory, if any, holds Input.Mirrors: one directory per key, named by the key
// path-escaped (mirrors/group%2Ftemplates is the mirror of group/templates).
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "cases", "*"))
	if err != nil {
		t.Fatal(err)
	}
	invalid := 0
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "expected.err")); err == nil {
			invalid++
		}
		t.Run(filepath.Base(dir), func(t *testing.T) { runCase(t, dir) })
	}
	if len(dirs) < 40 {
		t.Errorf("found %d golden cases, want at least 40", len(dirs))
	}
	if invalid < 15 {
		t.Errorf("found %d invalid cases, want at least 15", invalid)
	}
}

func runCase(t *testing.T, dir string) {
	in := Input{FS: caseFS(t, dir), File: ".gitlab-ci.yml", Variables: caseVars(t, dir), Changed: caseChanged(t, dir),
		Mirrors: caseMirrors(t, dir)}
	p, err := Compile(in)
	var got []byte
	golden := filepath.Join(dir, "expected.json")
	if err != nil {
		var list ErrorList
		if !errors.As(err, &list) {
			t.Fatalf("Compile error is %T, want ErrorList: %v", err, err)
		}
		got = []byte(err.Error() + "\n")
		golden = filepath.Join(dir, "expected.err")
	} else {
		got, err = json.MarshalIndent(p, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, '\n')
	}
	if *update {
		for _, name := range []string{"expected.json", "expected.err"} {
			_ = os.Remove(filepath.Join(dir, name))
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (compiled to:\n%s)", err, got)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s -want +got:\n%s", golden, d)
	}
}

var caseFiles = map[string]bool{"expected.json": true, "expected.err": true, "vars.txt": true, "changed.txt": true}

// caseFS is the case's repository: its files but the test's own and the mirrors.
func caseFS(t *testing.T, dir string) fs.FS {
	t.Helper()
	m := fstest.MapFS{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || caseFiles[rel] || d.IsDir() {
			if rel == mirrorsDir {
				return fs.SkipDir
			}
			return err
		}
		data, err := os.ReadFile(p)
		m[filepath.ToSlash(rel)] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const mirrorsDir = "mirrors"

// caseMirrors reads the case's mirrors/<escaped key>/ directories; nil when it has none.
func caseMirrors(t *testing.T, dir string) map[string]fs.FS {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, mirrorsDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]fs.FS{}
	for _, e := range entries {
		key, err := url.PathUnescape(e.Name())
		if err != nil {
			t.Fatalf("mirrors/%s: %v", e.Name(), err)
		}
		out[key] = caseFS(t, filepath.Join(dir, mirrorsDir, e.Name()))
	}
	return out
}

func caseVars(t *testing.T, dir string) []Var {
	vars := PredefinedVariables(testGit)
	for _, line := range readLines(t, filepath.Join(dir, "vars.txt")) {
		if key, ok := strings.CutPrefix(line, "!"); ok {
			vars = removeVar(vars, key)
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("vars.txt: %q is not KEY=VALUE or !KEY", line)
		}
		vars = append(removeVar(vars, key), Var{Key: key, Value: value})
	}
	return vars
}

func removeVar(vars []Var, key string) []Var {
	var out []Var
	for _, v := range vars {
		if v.Key != key {
			out = append(out, v)
		}
	}
	return out
}

func caseChanged(t *testing.T, dir string) []string {
	if _, err := os.Stat(filepath.Join(dir, "changed.txt")); err != nil {
		return nil
	}
	return append([]string{}, readLines(t, filepath.Join(dir, "changed.txt"))...)
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}
