package trace

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeAll writes the pieces, finishes the buffer and returns the whole log.
func writeAll(t *testing.T, opts Options, pieces ...string) string {
	t.Helper()
	b := newTestBuffer(t, opts)
	for _, p := range pieces {
		if n, err := b.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", p, n, err)
		}
	}
	b.Finish()
	return string(readAll(t, b))
}

// maskPieces runs the masker alone over the pieces: the exhaustive split tests need no file.
func maskPieces(opts Options, pieces []string) string {
	m := newMasker(opts.Masks, opts.TokenPrefixes)
	var out []byte
	for _, p := range pieces {
		out = m.write(out, []byte(p))
	}
	return string(m.flush(out))
}

// splits returns every way to cut s into one and two writes, byte by byte, and, for
// short inputs, every way into three writes.
func splits(s string) [][]string {
	out := [][]string{{s}, strings.Split(s, "")}
	for i := 0; i <= len(s); i++ {
		out = append(out, []string{s[:i], s[i:]})
		for j := i; j <= len(s) && len(s) <= 32; j++ {
			out = append(out, []string{s[:i], s[i:j], s[j:]})
		}
	}
	return out
}

func TestMasking(t *testing.T) {
	tests := []struct {
		name     string
		masks    []string
		prefixes []string
		in, want string
	}{
		{"no secrets", []string{"s3cr3t"}, nil, "plain log line\n", "plain log line\n"},
		{"every occurrence", []string{"s3cr3t"}, nil, "a s3cr3t b s3cr3ts3cr3t c", "a [MASKED] b [MASKED][MASKED] c"},
		{"several masks", []string{"alpha-1", "beta-22"}, nil, "x alpha-1 y beta-22 z", "x [MASKED] y [MASKED] z"},
		{"empty and duplicate masks", []string{"", "pw", "pw"}, nil, "a pw b", "a [MASKED] b"},
		{"partial secret at the end is released by Finish", []string{"s3cr3t"}, nil, "log s3cr3", "log s3cr3"},
		{"longest of masks that prefix each other", []string{"abc", "abcdef"}, nil, "xabcdefy", "x[MASKED]y"},
		{"shorter mask when the longer fails", []string{"abc", "abcdef"}, nil, "xabcdey", "x[MASKED]dey"},
		{"shorter mask when the input ends", []string{"abc", "abcdef"}, nil, "xabcde", "x[MASKED]de"},
		{"overlapping masks: leftmost wins", []string{"abcd", "cdef"}, nil, "abcdef", "[MASKED]ef"},
		{"overlapping masks: longer one starts later", []string{"bcd", "abcde"}, nil, "abcdf", "a[MASKED]f"},
		{"self-overlapping mask", []string{"aa"}, nil, "aaaaa", "[MASKED][MASKED]a"},
		{"url-encoded forms", []string{"p@ss w/rd"}, nil,
			"https://u:p%40ss%20w%2Frd@h/r ?p=p%40ss+w%2Frd /p@ss%20w%2Frd/ p@ss w/rd",
			"https://u:[MASKED]@h/r ?p=[MASKED] /[MASKED]/ [MASKED]"},
		{"default token prefix", nil, nil, "token glpat-abc123XYZ_- used", "token glpat-[MASKED] used"},
		{"token body has dots and padding", nil, nil, "glpat-abc.01.def==, next", "glpat-[MASKED], next"},
		{"token at the end of the log", nil, nil, "export T=glpat-abc", "export T=glpat-[MASKED]"},
		{"bare prefix is no token", nil, nil, "glpat- and glpat-\n", "glpat- and glpat-\n"},
		{"prefix inside a word", nil, nil, "xglpat-abc", "xglpat-[MASKED]"},
		{"prefix inside a token body", nil, nil, "glpat-impglpat-erdiet x", "glpat-[MASKED] x"},
		{"custom prefixes, trimmed", nil, []string{" glrt- ", "", "glcbt-"}, "glrt-t1_x glcbt-64_y glpat-z", "glrt-[MASKED] glcbt-[MASKED] glpat-[MASKED]"},
		{"longest prefix on a tie", nil, []string{"gl"}, "glpat-xyz glabc", "glpat-[MASKED] gl[MASKED]"},
		{"token wins a tie with a mask", []string{"glcbt-abc"}, []string{"glcbt-"}, "glcbt-abc", "glcbt-[MASKED]"},
		{"longer token beats a mask", []string{"glcbt-abc"}, []string{"glcbt-"}, "glcbt-abcdef", "glcbt-[MASKED]"},
		{"longer mask beats a token", []string{"glpat-ab cd"}, nil, "glpat-ab cd!", "[MASKED]!"},
		{"mask inside a token body", []string{"abc"}, nil, "glpat-xxabcxx y", "glpat-[MASKED] y"},
		{"masked secret before a token", []string{"s3cr3t"}, nil, "s3cr3tglpat-x", "[MASKED]glpat-[MASKED]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{Masks: tc.masks, TokenPrefixes: tc.prefixes}
			for _, pieces := range splits(tc.in) {
				if diff := cmp.Diff(tc.want, maskPieces(opts, pieces)); diff != "" {
					t.Fatalf("writes %q: -want +got:\n%s", pieces, diff)
				}
			}
			// The same through a Buffer, in one write and byte by byte.
			for _, pieces := range splits(tc.in)[:2] {
				if diff := cmp.Diff(tc.want, writeAll(t, opts, pieces...)); diff != "" {
					t.Fatalf("Buffer, writes %q: -want +got:\n%s", pieces, diff)
				}
			}
			// The same through a Writer and Mask; masking the result again changes nothing, so
			// the runner may mask what the agent masked.
			for _, pieces := range splits(tc.in)[:2] {
				if diff := cmp.Diff(tc.want, writerAll(t, opts, pieces...)); diff != "" {
					t.Fatalf("Writer, writes %q: -want +got:\n%s", pieces, diff)
				}
			}
			if got := Mask(tc.in, tc.masks, tc.prefixes); got != tc.want {
				t.Fatalf("Mask(%q) = %q, want %q", tc.in, got, tc.want)
			}
			// A prefix that a token's body may continue ("gl" in "glpat-") is the exception.
			idempotent := !slices.ContainsFunc(tc.prefixes, func(p string) bool { return !strings.HasSuffix(p, "-") })
			if got := Mask(tc.want, tc.masks, tc.prefixes); idempotent && got != tc.want {
				t.Fatalf("masking again: Mask(%q) = %q", tc.want, got)
			}
		})
	}
}

func TestHeldBytesReleasedAsSoonAsDecided(t *testing.T) {
	tests := []struct {
		name   string
		masks  []string
		writes []string
		ready  []string // ready bytes after each write
	}{
		{
			name:   "partial mask held, then released by a mismatch",
			masks:  []string{"s3cr3t"},
			writes: []string{"log s3c", "r", "x\n"},
			ready:  []string{"log ", "log ", "log s3crx\n"},
		},
		{
			name:   "partial mask completed",
			masks:  []string{"s3cr3t"},
			writes: []string{"log s3c", "r3t", " done"},
			ready:  []string{"log ", "log [MASKED]", "log [MASKED] done"},
		},
		{
			name:   "only the tail that can still be a mask is held",
			masks:  []string{"abcabd"},
			writes: []string{"abcabc", "abd"},
			ready:  []string{"abc", "abc[MASKED]"},
		},
		{
			name:   "bare prefix waits for one more byte",
			writes: []string{"see glpat-", " x"},
			ready:  []string{"see ", "see glpat- x"},
		},
		{
			name:   "token masked before its end is seen",
			writes: []string{"glpat-ab", "cd end"},
			ready:  []string{"glpat-[MASKED]", "glpat-[MASKED] end"},
		},
		{
			name:   "token waits while a longer mask may follow",
			masks:  []string{"glpat-ab cd"},
			writes: []string{"glpat-ab", " cx"},
			ready:  []string{"", "glpat-[MASKED] cx"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestBuffer(t, Options{Masks: tc.masks})
			var got []string
			for _, w := range tc.writes {
				if _, err := b.Write([]byte(w)); err != nil {
					t.Fatal(err)
				}
				got = append(got, string(readAll(t, b)))
			}
			if diff := cmp.Diff(tc.ready, got); diff != "" {
				t.Errorf("ready bytes after each write -want +got:\n%s", diff)
			}
		})
	}
}

func TestHoldBound(t *testing.T) {
	m := newMasker([]string{"short", "a-much-longer-secret", "glcbt-12345678"}, []string{"glrt-"})
	if want := len("a-much-longer-secret") - 1; m.maxHold != want {
		t.Fatalf("maxHold = %d, want %d", m.maxHold, want)
	}
	// Text made of nothing but mask beginnings keeps the hold at its bound, never beyond.
	in := strings.Repeat("a-much-longer-secre", 50) + strings.Repeat("glcbt-1234567 glrt-", 20)
	for i := range len(in) {
		m.write(nil, []byte{in[i]})
		if len(m.held) > m.maxHold {
			t.Fatalf("after %d bytes held %d > %d", i+1, len(m.held), m.maxHold)
		}
	}
}

func TestMaskValues(t *testing.T) {
	got := maskValues([]string{"", "plain", "a b&c", "plain", "p@ss/w"})
	want := []string{"plain", "a b&c", "a%20b&c", "a+b%26c", "p@ss/w", "p%40ss%2Fw", "p@ss%2Fw"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("maskValues -want +got:\n%s", diff)
	}
}
