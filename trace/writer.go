package trace

import (
	"io"
	"sync"
)

// Writer masks a stream on its way to another writer, with the masking a Buffer applies:
// exact values, their URL-encoded forms and prefixed tokens, also when split across writes.
// It is for logs that leave the process by other paths than a Buffer, such as the job pod's
// container log, so that no unmasked secret is ever written there. Up to the longest mask's
// length of input may be held back until the next write or Flush. Safe for concurrent use.
type Writer struct {
	mu      sync.Mutex
	masker  *masker
	w       io.Writer
	scratch []byte
	err     error
}

// NewWriter masks what is written to it with masks and prefixes (see Options) and writes
// the result to w.
func NewWriter(w io.Writer, masks, prefixes []string) *Writer {
	return &Writer{masker: newMasker(masks, prefixes), w: w}
}

// Write masks p and writes what is final to the underlying writer. It reports len(p) or
// the underlying writer's first error, which every later call returns too.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for rest := p; len(rest) > 0 && w.err == nil; {
		n := min(len(rest), chunkSize)
		w.put(w.masker.write(w.scratch[:0], rest[:n]))
		rest = rest[n:]
	}
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

// Flush writes what was held back, the stream being over (a held tail is then not the
// beginning of a secret). Later writes start a new stream.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.put(w.masker.flush(w.scratch[:0]))
	}
	return w.err
}

// put writes masked output. Called with mu held.
func (w *Writer) put(out []byte) {
	w.scratch = out[:0] // keep the grown capacity for the next write
	if len(out) > 0 {
		_, w.err = w.w.Write(out)
	}
}

// Mask returns s masked as a whole, for a message that leaves the process in one piece.
func Mask(s string, masks, prefixes []string) string {
	m := newMasker(masks, prefixes)
	return string(m.flush(m.write(nil, []byte(s))))
}
