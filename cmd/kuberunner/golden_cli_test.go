package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Every golden case of the compiler, committed to a repository of its own, through
// `pipeline lint` and `pipeline show` as a user runs them: a valid case lints clean and
// shows as YAML and as JSON; an invalid one fails lint with the compiler's first error.
// Cases that set variables or changed files (vars.txt, changed.txt) compile differently
// from a plain checkout: they only have to give an answer, not the golden one. A case's
// mirrors/<path-escaped key>/ directories are given with --include-mirror, not committed.
func TestLintAndShowEveryGoldenCase(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("..", "..", "pipeline", "compiler", "testdata", "cases", "*"))
	if err != nil || len(dirs) < 40 {
		t.Fatalf("golden cases: %d, %v", len(dirs), err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			files, special := caseFiles(t, dir)
			mirrors := caseMirrorFlags(t, dir)
			repo := newRepoOf(t, files, "golden case")
			// The compiler's tests run as group/project (a component's address names it).
			if out, err := exec.Command("git", "-C", repo, "remote", "add", "origin", "https://gitlab.example.com/group/project.git").CombinedOutput(); err != nil {
				t.Fatalf("git remote add: %v\n%s", err, out)
			}
			out, errOut, code := runCLI(t, append([]string{"pipeline", "lint", "--dir", repo}, mirrors...)...)
			wantErr, invalid := readFirstLine(filepath.Join(dir, "expected.err"))
			switch {
			case special:
				if code != 0 && code != 1 {
					t.Errorf("lint: exit %d: %s%s", code, out, errOut)
				}
			case invalid:
				if code == 0 || !strings.Contains(out+errOut, wantErr) {
					t.Errorf("lint: exit %d, output:\n%s%s\nwant a failure saying %q", code, out, errOut, wantErr)
				}
			default:
				if code != 0 || !strings.Contains(out, "is valid") {
					t.Errorf("lint: exit %d, output:\n%s%s", code, out, errOut)
				}
				if out, errOut, code := runCLI(t, append([]string{"pipeline", "show", "--dir", repo}, mirrors...)...); code != 0 || out == "" {
					t.Errorf("show: exit %d, output:\n%s%s", code, out, errOut)
				}
				out, errOut, code := runCLI(t, append([]string{"pipeline", "show", "--dir", repo, "--format", "json"}, mirrors...)...)
				if code != 0 || !json.Valid([]byte(out)) {
					t.Errorf("show --format json: exit %d, output:\n%s%s", code, out, errOut)
				}
			}
		})
	}
}

// caseFiles reads a case's repository files; special says it sets variables or changes.
func caseFiles(t *testing.T, dir string) (files map[string][]byte, special bool) {
	t.Helper()
	files = map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || d.IsDir() {
			if rel == "mirrors" {
				return fs.SkipDir
			}
			return err
		}
		switch rel {
		case "expected.json", "expected.err":
			return nil
		case "vars.txt", "changed.txt":
			special = true
			return nil
		}
		files[filepath.ToSlash(rel)], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, special
}

// caseMirrorFlags gives the case's mirrors/<path-escaped key>/ directories as
// --include-mirror KEY=DIR.
func caseMirrorFlags(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "mirrors"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var flags []string
	for _, e := range entries {
		key, err := url.PathUnescape(e.Name())
		if err != nil {
			t.Fatalf("mirrors/%s: %v", e.Name(), err)
		}
		abs, err := filepath.Abs(filepath.Join(dir, "mirrors", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		flags = append(flags, "--include-mirror", key+"="+abs)
	}
	return flags
}

func readFirstLine(path string) (string, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return line, true
}
