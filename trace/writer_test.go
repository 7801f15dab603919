package trace

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// writerAll writes the pieces through a Writer, flushes it and returns what came out.
func writerAll(t *testing.T, opts Options, pieces ...string) string {
	t.Helper()
	var out bytes.Buffer
	w := NewWriter(&out, opts.Masks, opts.TokenPrefixes)
	for _, p := range pieces {
		if n, err := w.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", p, n, err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestWriterHoldsOnlyWhatMayBeASecret(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out, []string{"s3cr3t"}, nil)
	steps := []struct{ write, want string }{
		{"line one\n", "line one\n"},
		{"then s3c", "line one\nthen "},
		{"r3t!", "line one\nthen [MASKED]!"},
		{" s3", "line one\nthen [MASKED]! "},
	}
	for _, s := range steps {
		if _, err := w.Write([]byte(s.write)); err != nil {
			t.Fatal(err)
		}
		if out.String() != s.want {
			t.Fatalf("after %q: %q, want %q", s.write, out.String(), s.want)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := "line one\nthen [MASKED]! s3"; out.String() != want {
		t.Fatalf("after Flush: %q, want %q", out.String(), want)
	}
}

func TestWriterLargeWrite(t *testing.T) {
	in := strings.Repeat("x s3cr3t y ", 3*chunkSize/11) + "s3cr"
	got := writerAll(t, Options{Masks: []string{"s3cr3t"}}, in[:chunkSize+3], in[chunkSize+3:])
	if want := strings.ReplaceAll(in, "s3cr3t", maskText); got != want {
		t.Fatalf("got %d bytes, want %d; differ", len(got), len(want))
	}
}

type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	f.n++
	return 0, errors.New("broken pipe")
}

func TestWriterKeepsTheFirstError(t *testing.T) {
	f := &failingWriter{}
	w := NewWriter(f, nil, nil)
	if _, err := w.Write([]byte("a")); err == nil {
		t.Fatal("Write succeeded on a failing writer")
	}
	if _, err := w.Write([]byte("b")); err == nil {
		t.Fatal("second Write succeeded")
	}
	if err := w.Flush(); err == nil {
		t.Fatal("Flush succeeded")
	}
	if f.n != 1 {
		t.Errorf("underlying writer called %d times after its error, want 1", f.n)
	}
}
