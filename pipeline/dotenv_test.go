package pipeline

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/pipeline/compiler"
)

func v(key, value string) compiler.Var { return compiler.Var{Key: key, Value: value, Expand: true} }

func TestParseDotenv(t *testing.T) {
	tests := []struct {
		name    string
		files   []string
		want    []compiler.Var
		wantErr string
	}{
		{name: "one", files: []string{"VERSION=1.2.3\n"}, want: []compiler.Var{v("VERSION", "1.2.3")}},
		{name: "no final newline", files: []string{"A=1\nB=2"}, want: []compiler.Var{v("A", "1"), v("B", "2")}},
		{name: "spaces and CRLF", files: []string{"  A = x y \r\nB=\r\n"}, want: []compiler.Var{v("A", "x y"), v("B", "")}},
		{name: "quotes", files: []string{`A="a b"` + "\nB='c'\nC=\"d'\nD=\"\n"},
			want: []compiler.Var{v("A", "a b"), v("B", "c"), v("C", `"d'`), v("D", `"`)}},
		{name: "value with = and $", files: []string{"URL=http://x/?a=b\nREF=$OTHER\n"},
			want: []compiler.Var{v("URL", "http://x/?a=b"), v("REF", "$OTHER")}},
		{name: "later wins", files: []string{"A=1\nB=2\nA=3\n"}, want: []compiler.Var{v("A", "3"), v("B", "2")}},
		{name: "several files", files: []string{"A=1", "B=2\n"}, want: []compiler.Var{v("A", "1"), v("B", "2")}},
		{name: "empty file", files: []string{""}, want: nil},
		{name: "empty line", files: []string{"A=1\n\nB=2\n"}, wantErr: "line 2: want KEY=VALUE"},
		{name: "comment", files: []string{"# the version\nA=1\n"}, wantErr: "line 1: want KEY=VALUE"},
		{name: "export", files: []string{"export A=1\n"}, wantErr: `line 1: key "export A"`},
		{name: "commented assignment", files: []string{"#A=1\n"}, wantErr: `line 1: key "#A"`},
		{name: "empty key", files: []string{"=1\n"}, wantErr: `line 1: key ""`},
		{name: "dash in key", files: []string{"MY-VAR=1\n"}, wantErr: `key "MY-VAR"`},
		{name: "too many", files: []string{manyVars(21)}, wantErr: "21 variables, more than the 20 allowed"},
		{name: "twenty", files: []string{manyVars(20)}, want: manyWant(20)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var files [][]byte
			for _, f := range tc.files {
				files = append(files, []byte(f))
			}
			got, err := parseDotenv(files)
			checkVars(t, got, err, tc.want, tc.wantErr)
		})
	}
}

// An invalid line's value may be a secret: the error names the key only.
func TestParseDotenvKeepsValuesOutOfErrors(t *testing.T) {
	_, err := parseDotenv([][]byte{[]byte("export TOKEN=s3cr3t\n")})
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error %v, want one without the value", err)
	}
}

func manyVars(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "V%d=%d\n", i, i)
	}
	return b.String()
}

func manyWant(n int) []compiler.Var {
	var out []compiler.Var
	for i := range n {
		out = append(out, v(fmt.Sprintf("V%d", i), fmt.Sprint(i)))
	}
	return out
}

// gzipMembers is GitLab's gzip artifact format: one member per file.
func gzipMembers(t *testing.T, files ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	for i, f := range files {
		zw := gzip.NewWriter(&b)
		zw.Name = fmt.Sprintf("file%d.env", i)
		if _, err := zw.Write([]byte(f)); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func storedFile(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "upload")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadDotenv(t *testing.T) {
	tests := []struct {
		name    string
		arts    []coordinator.StoredArtifact
		want    []compiler.Var
		wantErr string
	}{
		{name: "no report", arts: []coordinator.StoredArtifact{{Type: "archive", Format: "zip", Path: storedFile(t, []byte("zip"))}}},
		{name: "gzip members are files", arts: []coordinator.StoredArtifact{{Type: "dotenv", Format: "gzip",
			Path: storedFile(t, gzipMembers(t, "A=1", "B=2\n"))}}, want: []compiler.Var{v("A", "1"), v("B", "2")}},
		{name: "raw", arts: []coordinator.StoredArtifact{{Type: "dotenv", Format: "raw",
			Path: storedFile(t, []byte("A=1\n"))}}, want: []compiler.Var{v("A", "1")}},
		{name: "too big", arts: []coordinator.StoredArtifact{{Type: "dotenv", Format: "gzip",
			Path: storedFile(t, gzipMembers(t, "A="+strings.Repeat("x", 3000)+"\n", "B="+strings.Repeat("y", 3000)+"\n"))}},
			wantErr: "dotenv report: larger than 5120 bytes"},
		{name: "not gzip", arts: []coordinator.StoredArtifact{{Type: "dotenv", Format: "gzip",
			Path: storedFile(t, []byte("A=1\n"))}}, wantErr: "dotenv report: read gzip"},
		{name: "invalid", arts: []coordinator.StoredArtifact{{Type: "dotenv", Format: "gzip",
			Path: storedFile(t, gzipMembers(t, "A=1\nexport B=2\n"))}}, wantErr: `dotenv report: line 2: key "export B"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readDotenv(tc.arts)
			checkVars(t, got, err, tc.want, tc.wantErr)
		})
	}
}

// checkVars checks a parse: the error contains wantErr, or the variables are want.
func checkVars(t *testing.T, got []compiler.Var, err error, want []compiler.Var, wantErr string) {
	t.Helper()
	switch {
	case wantErr != "":
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("error = %v, want one containing %q", err, wantErr)
		}
	case err != nil:
		t.Error(err)
	default:
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("vars -want +got:\n%s", d)
		}
	}
}
