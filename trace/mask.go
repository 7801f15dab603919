package trace

import (
	"bytes"
	"net/url"
	"strings"
)

const maskText = "[MASKED]"

// DefaultTokenPrefix is masked in every log, whatever the job's token_mask_prefixes say,
// as gitlab-runner does: personal access tokens are the secret most often pasted into scripts.
const DefaultTokenPrefix = "glpat-"

// tokenChars are the bytes a prefixed token's body is made of. This is gitlab-runner's set:
// besides [A-Za-z0-9_-] it has '.' (routable tokens carry dots) and '=' (base64 padding),
// so the tail of such a token is not left readable after a shorter match.
var tokenChars = func() (t [256]bool) {
	for _, c := range []byte("-._=") {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	return t
}()

// maskValues returns the distinct non-empty values to mask: each value and, where they
// differ, its URL-encoded forms, as a secret appears in a clone URL's user info, a query
// string or a path.
func maskValues(values []string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(v string) {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	for _, v := range values {
		add(v)
		add(strings.TrimPrefix(url.UserPassword("", v).String(), ":"))
		add(url.QueryEscape(v))
		add(url.PathEscape(v))
	}
	return out
}

// tokenPrefixes returns the distinct, trimmed prefixes, always with DefaultTokenPrefix.
func tokenPrefixes(prefixes []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range append([]string{DefaultTokenPrefix}, prefixes...) {
		p = strings.TrimSpace(p)
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// masker replaces secrets in a stream of writes. At each position the longest candidate
// wins: a mask spans its own length, a token spans its prefix and body. On a tie the token
// wins (gitlab-runner renders a job token as "glcbt-[MASKED]"), and among tokens the
// longest prefix. Bytes that may still begin a secret are held back until the next write
// proves otherwise or flush ends the stream; a masker is not safe for concurrent use.
type masker struct {
	// masks and prefixes are few, and looked at only where first and pairs say one may
	// begin: plain lists, not tables by first byte (12 KiB a job with a job in flight).
	masks    [][]byte
	prefixes [][]byte
	first    [256]bool            // bytes that may start a mask or a token
	pairs    [1 << 16 / 64]uint64 // bit set of byte pairs that may start one
	maxHold  int

	held    []byte // undecided input, at most maxHold bytes between writes
	inToken bool   // the previous write ended inside a token's body
}

func newMasker(values, prefixes []string) *masker {
	m := &masker{}
	for _, v := range maskValues(values) {
		m.masks = append(m.masks, []byte(v))
		m.addStart(v)
		m.maxHold = max(m.maxHold, len(v)-1)
	}
	for _, p := range tokenPrefixes(prefixes) {
		m.prefixes = append(m.prefixes, []byte(p))
		m.addStart(p)
		m.maxHold = max(m.maxHold, len(p)) // a bare prefix waits for its first body byte
	}
	return m
}

// addStart records how s begins, so scan can skip in one or two lookups the bytes where
// nothing can begin: most of a log.
func (m *masker) addStart(s string) {
	m.first[s[0]] = true
	if len(s) == 1 {
		for c := range 256 {
			m.setPair(s[0], byte(c))
		}
		return
	}
	m.setPair(s[0], s[1])
}

func (m *masker) setPair(a, b byte) {
	k := uint(a)<<8 | uint(b)
	m.pairs[k/64] |= 1 << (k % 64)
}

// mayStart reports whether a mask or token may begin at s[i].
func (m *masker) mayStart(s []byte, i int) bool {
	if !m.first[s[i]] {
		return false
	}
	if i+1 == len(s) {
		return true
	}
	k := uint(s[i])<<8 | uint(s[i+1])
	return m.pairs[k/64]&(1<<(k%64)) != 0
}

// write appends to dst the masked output that p makes final.
func (m *masker) write(dst, p []byte) []byte {
	if len(m.held) == 0 {
		// The common case: scan p in place, keep only its undecided tail.
		var used int
		dst, used = m.scan(dst, p, false)
		m.held = append(m.held, p[used:]...)
		return dst
	}
	m.held = append(m.held, p...)
	dst, used := m.scan(dst, m.held, false)
	m.held = m.held[:copy(m.held, m.held[used:])]
	return dst
}

// flush appends to dst whatever was held back, the stream being over.
func (m *masker) flush(dst []byte) []byte {
	dst, _ = m.scan(dst, m.held, true)
	m.held = m.held[:0]
	m.inToken = false
	return dst
}

type action int

const (
	actHold  action = iota // not decidable yet: wait for more input
	actByte                // no secret starts here
	actMask                // a mask of n bytes
	actToken               // a token of n bytes with prefix
)

type decision struct {
	act    action
	n      int
	prefix []byte
	open   bool // the token's body runs to the end of the input and may go on
}

// scan appends the masked form of s to dst and returns how much of s it consumed; the
// rest is undecided. With atEOF everything is decided.
func (m *masker) scan(dst, s []byte, atEOF bool) ([]byte, int) {
	i := 0
	for i < len(s) {
		if m.inToken {
			for i < len(s) && tokenChars[s[i]] {
				i++
			}
			if i == len(s) {
				break
			}
			m.inToken = false
		}
		start := i
		for i < len(s) && !m.mayStart(s, i) {
			i++
		}
		dst = append(dst, s[start:i]...)
		if i == len(s) {
			break
		}
		d := m.decide(s[i:], atEOF)
		switch d.act {
		case actHold:
			return dst, i
		case actByte:
			dst = append(dst, s[i])
		case actMask:
			dst = append(dst, maskText...)
		case actToken:
			dst = append(dst, d.prefix...)
			dst = append(dst, maskText...)
			m.inToken = d.open
		}
		i += d.n
	}
	return dst, len(s)
}

// decide says what starts at s[0], or actHold if that depends on bytes not seen yet.
func (m *masker) decide(s []byte, atEOF bool) decision {
	longest := 0
	for _, mk := range m.masks {
		switch {
		case mk[0] != s[0]: // it cannot begin here
		case len(mk) <= len(s):
			if len(mk) > longest && bytes.HasPrefix(s, mk) {
				longest = len(mk)
			}
		case !atEOF && bytes.HasPrefix(mk, s):
			// A longer mask may still complete, and it would beat anything shorter.
			return decision{act: actHold}
		}
	}

	tok := decision{act: actToken}
	for _, p := range m.prefixes {
		if p[0] != s[0] {
			continue
		}
		if len(p) > len(s) {
			if !atEOF && bytes.HasPrefix(p, s) {
				return decision{act: actHold}
			}
			continue
		}
		if !bytes.HasPrefix(s, p) {
			continue
		}
		end := len(p)
		for end < len(s) && tokenChars[s[end]] {
			end++
		}
		if end == len(p) {
			if end == len(s) && !atEOF {
				return decision{act: actHold} // is a body coming?
			}
			continue // a bare prefix is not a token
		}
		if end > tok.n || (end == tok.n && len(p) > len(tok.prefix)) {
			tok.n, tok.prefix, tok.open = end, p, end == len(s) && !atEOF
		}
	}

	switch {
	case tok.n > 0 && tok.n >= longest:
		return tok
	case longest > 0:
		return decision{act: actMask, n: longest}
	default:
		return decision{act: actByte, n: 1}
	}
}
