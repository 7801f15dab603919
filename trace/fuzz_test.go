package trace

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// tokenBody is the body of a prefixed token, written independently of tokenChars.
var tokenBody = regexp.MustCompile(`^[A-Za-z0-9._=-]+`)

// referenceMask masks a whole input at once, the plain way: at each position the longest
// candidate wins, a token on a tie with a mask, the longest prefix on a tie between tokens.
func referenceMask(in []byte, masks, prefixes []string) []byte {
	var out []byte
	for i := 0; i < len(in); {
		rest := in[i:]
		maskLen := 0
		for _, m := range masks {
			if m != "" && len(m) > maskLen && bytes.HasPrefix(rest, []byte(m)) {
				maskLen = len(m)
			}
		}
		tokLen, tokPrefix := 0, ""
		for _, p := range prefixes {
			if !bytes.HasPrefix(rest, []byte(p)) {
				continue
			}
			body := tokenBody.Find(rest[len(p):])
			if len(body) == 0 {
				continue
			}
			if n := len(p) + len(body); n > tokLen || n == tokLen && len(p) > len(tokPrefix) {
				tokLen, tokPrefix = n, p
			}
		}
		switch {
		case tokLen > 0 && tokLen >= maskLen:
			out = append(out, tokPrefix+"[MASKED]"...)
			i += tokLen
		case maskLen > 0:
			out = append(out, "[MASKED]"...)
			i += maskLen
		default:
			out = append(out, in[i])
			i++
		}
	}
	return out
}

// referenceMasks expands values with their URL-encoded forms, as the package promises.
func referenceMasks(values []string) []string {
	var out []string
	for _, v := range values {
		userinfo := strings.TrimPrefix(url.UserPassword("", v).String(), ":")
		out = append(out, v, userinfo, url.QueryEscape(v), url.PathEscape(v))
	}
	return out
}

// referenceLimit applies the size limit to a masked log.
func referenceLimit(masked []byte, limit int64) []byte {
	if limit == 0 || int64(len(masked)) <= limit {
		return masked
	}
	return append(masked[:limit:limit], fmt.Sprintf("\n\x1b[31;1mJob's log exceeded limit of %d bytes.\n"+
		"Job execution will continue but no more output will be collected.\x1b[0;m\n", limit)...)
}

// Fuzz inputs are mapped onto small alphabets so that masks, prefixes and text collide
// often. Masks use no byte of "[MASKED]", so a mask can never be formed by the mask text.
const (
	fuzzText = "abcglpt-_.= \n+x"
	fuzzMask = "abcglpt-. "
)

var fuzzPrefixes = []string{"ab-", "glp"} // with the default glpat-: glp ties with it

func fuzzMasks(spec []byte) []string {
	var masks []string
	var cur []byte
	for _, c := range spec {
		if c%byte(len(fuzzMask)+1) == byte(len(fuzzMask)) || len(cur) == 16 {
			masks = append(masks, string(cur))
			cur = nil
			continue
		}
		cur = append(cur, fuzzMask[int(c)%len(fuzzMask)])
	}
	masks = append(masks, string(cur))
	if len(masks) > 8 {
		masks = masks[:8]
	}
	return masks
}

func FuzzMasking(f *testing.F) {
	f.Add([]byte("say glpat-abc and abc- and secret"), []byte{1, 2, 3}, []byte{1, 2, 3, 4})
	f.Add([]byte("aaaaaaaaaaaabababab"), []byte{0, 0, 10, 0, 1}, []byte{0})
	f.Add([]byte("glp-x glpat-.= ab-ab-ab glpat-"), []byte{3, 4, 5, 6, 7}, []byte{2, 9, 1})
	f.Add([]byte("xx abcab abcabc cab\nabc"), []byte{0, 1, 2, 10, 2, 0, 1}, []byte{5, 1, 1, 1, 1, 1})
	f.Add([]byte("lots of text with no secrets in it at all, line after line\n"), []byte{}, []byte{})
	f.Add([]byte("a b a+b a%20b"), []byte{0, 9, 1}, []byte{3, 7})
	f.Add([]byte("tttttttt glpat-ttttt tt"), []byte{6, 6, 6, 10, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6}, []byte{4, 1})
	f.Fuzz(func(t *testing.T, input, maskSpec, cuts []byte) {
		if len(input) > 4096 {
			input = input[:4096]
		}
		text := make([]byte, len(input))
		for i, c := range input {
			text[i] = fuzzText[int(c)%len(fuzzText)]
		}
		masks := fuzzMasks(maskSpec)
		var limit int64
		if len(cuts) > 0 && cuts[0]%4 == 0 {
			limit = int64(cuts[0]) + 1
		}
		prefixes := append([]string{DefaultTokenPrefix}, fuzzPrefixes...)
		masked := referenceMask(text, referenceMasks(masks), prefixes)
		want := referenceLimit(masked, limit)

		for _, m := range referenceMasks(masks) {
			// A token's prefix is shown as it is: a mask inside a prefix is not a secret.
			inPrefix := slices.ContainsFunc(prefixes, func(p string) bool { return strings.Contains(p, m) })
			if m != "" && !inPrefix && bytes.Contains(masked, []byte(m)) {
				t.Fatalf("reference leaks mask %q: %q", m, masked)
			}
		}

		// os.TempDir, not t.TempDir: a directory per run would slow fuzzing tenfold. Close
		// removes the file.
		b := newTestBuffer(t, Options{Masks: masks, TokenPrefixes: fuzzPrefixes, Limit: limit, Dir: os.TempDir()})
		for i, rest := 0, text; len(rest) > 0; i++ {
			n := len(rest)
			if len(cuts) > 0 {
				n = min(n, 1+int(cuts[i%len(cuts)])%23)
			}
			if got, err := b.Write(rest[:n]); got != n || err != nil {
				t.Fatalf("Write = %d, %v; want %d, nil", got, err, n)
			}
			rest = rest[n:]

			ready := readAll(t, b)
			if !bytes.HasPrefix(want, ready) {
				t.Fatalf("ready bytes are not a prefix of the masked log\nready: %q\nwant:  %q", ready, want)
			}
			if held := len(b.masker.held); held > b.masker.maxHold {
				t.Fatalf("held %d bytes, more than the longest mask allows (%d)", held, b.masker.maxHold)
			}
			if got, want := b.Checksum(), fmt.Sprintf("crc32:%08x", crc32.ChecksumIEEE(ready)); got != want {
				t.Fatalf("Checksum() = %s, crc32 of ready bytes = %s", got, want)
			}
		}
		b.Finish()
		if got := readAll(t, b); !bytes.Equal(want, got) {
			t.Fatalf("masks %q, input %q\nwant %q\ngot  %q", masks, text, want, got)
		}
	})
}
