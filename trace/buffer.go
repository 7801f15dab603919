package trace

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned by Write and ReadAt once the Buffer is closed.
var ErrClosed = errors.New("trace buffer closed")

// chunkSize bounds how much input is masked at once, so a single huge write never needs
// a buffer of its own size.
const chunkSize = 32 << 10

// Options configure a Buffer. Each mask is also masked in its URL-encoded forms (user
// info, query, path) where they differ; DefaultTokenPrefix is always among the prefixes.
// A token is written as its prefix followed by "[MASKED]": the prefix stays readable.
type Options struct {
	Masks         []string // exact secret values (masked variables, the job token); "" ignored
	TokenPrefixes []string // job.features.token_mask_prefixes, e.g. "glpat-", "glrt-": mask prefix+token body
	Limit         int64    // bytes of output kept; 0 = unlimited. Past it: one clear truncation line, rest dropped
	Dir           string   // temp dir for the backing file; "" = os.TempDir()
	// Base and CRC continue a trace that others began: the Buffer's first byte is the
	// trace's byte Base, and CRC is the crc32 of the Base bytes before it. Len, ReadAt,
	// Limit and Checksum then count the whole trace.
	Base int64
	CRC  uint32
}

// Buffer is one job's log: an io.Writer for the executor and an io.ReaderAt over the
// masked bytes that are final ("ready"). All methods are safe for concurrent use.
//
// Secrets are masked before anything reaches the file, so no byte of the file, no Len
// and no Checksum ever reflects an unmasked secret. Up to the longest mask's length of
// input may be held back until the next write (or Finish) decides whether it is a secret.
type Buffer struct {
	mu        sync.Mutex // serialises writers; readers only need size
	masker    *masker
	file      *os.File
	limit     int64
	base      int64
	crc       uint32
	scratch   []byte
	finished  bool
	truncated bool
	err       error

	size   atomic.Int64 // bytes in the file; only grows
	closed atomic.Bool
	ready  chan struct{}
	done   chan struct{}
}

// New creates a Buffer backed by a new temporary file in opts.Dir.
func New(opts Options) (*Buffer, error) {
	if opts.Limit < 0 {
		return nil, fmt.Errorf("trace limit %d: must not be negative", opts.Limit)
	}
	f, err := os.CreateTemp(opts.Dir, "kuberunner-trace-*.log")
	if err != nil {
		return nil, fmt.Errorf("create trace file: %w", err)
	}
	return &Buffer{
		masker: newMasker(opts.Masks, opts.TokenPrefixes),
		file:   f,
		limit:  opts.Limit,
		base:   opts.Base,
		crc:    opts.CRC,
		ready:  make(chan struct{}, 1),
		done:   make(chan struct{}),
	}, nil
}

// Write masks p and appends it to the log. It reports len(p) even when output is dropped
// (past the limit, after Finish, after a storage error: see Err) so the job goes on; only
// a closed Buffer returns an error.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return 0, ErrClosed
	}
	for rest := p; len(rest) > 0 && b.accepting(); {
		n := min(len(rest), chunkSize)
		b.commit(b.masker.write(b.scratch[:0], rest[:n]))
		rest = rest[n:]
	}
	return len(p), nil
}

// Len returns the number of bytes final and ready to send, Base included.
func (b *Buffer) Len() int64 { return b.base + b.size.Load() }

// ReadAt reads ready bytes from off, as io.ReaderAt: a short read comes with io.EOF.
func (b *Buffer) ReadAt(p []byte, off int64) (int, error) {
	if b.closed.Load() {
		return 0, ErrClosed
	}
	if off < 0 {
		return 0, fmt.Errorf("read trace at %d: negative offset", off)
	}
	if off < b.base {
		return 0, fmt.Errorf("read trace at %d: before this buffer's start %d", off, b.base)
	}
	size := b.Len()
	if off >= size {
		return 0, io.EOF
	}
	want := p
	if int64(len(p)) > size-off {
		want = p[:size-off]
	}
	// pread is safe next to the appending writer: the bytes below size never change.
	n, err := b.file.ReadAt(want, off-b.base)
	if err != nil && !errors.Is(err, io.EOF) {
		if b.closed.Load() {
			return n, ErrClosed
		}
		return n, fmt.Errorf("read trace at %d: %w", off, err)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Ready receives a value (sent without blocking, capacity 1) after Len has grown, so a
// shipper can sleep until there is something new.
func (b *Buffer) Ready() <-chan struct{} { return b.ready }

// Done is closed once Len is final: after Finish or Close.
func (b *Buffer) Done() <-chan struct{} { return b.done }

// Finish releases the held-back bytes (the stream is over, so they are not a secret's
// beginning) and makes Len final; later writes are dropped.
func (b *Buffer) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	if b.accepting() {
		b.commit(b.masker.flush(b.scratch[:0]))
	}
	b.finish()
}

// Checksum returns "crc32:%08x" (IEEE, as gitlab-runner sends it) of the ready bytes.
// It matches Len read at the same moment; after Finish both are final.
func (b *Buffer) Checksum() string { return fmt.Sprintf("crc32:%08x", b.CRC()) }

// CRC is Checksum's number, for a trace that others continue.
func (b *Buffer) CRC() uint32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.crc
}

// Err reports a failure to store output; from then on output is dropped, and the ready
// bytes stay what was stored before. The runner can show it in the job's final state.
func (b *Buffer) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// Close removes the backing file. Held-back bytes not released by Finish are dropped.
func (b *Buffer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Swap(true) {
		return nil
	}
	b.finish()
	name := b.file.Name()
	if err := errors.Join(b.file.Close(), os.Remove(name)); err != nil {
		return fmt.Errorf("close trace file: %w", err)
	}
	return nil
}

func (b *Buffer) finish() {
	if !b.finished {
		b.finished = true
		close(b.done)
	}
}

func (b *Buffer) accepting() bool {
	return !b.finished && !b.truncated && b.err == nil
}

// commit appends masked output to the file, applying the limit. Called with mu held.
func (b *Buffer) commit(out []byte) {
	b.scratch = out[:0] // keep the grown capacity for the next write
	if b.limit > 0 {
		if room := max(b.limit-b.Len(), 0); int64(len(out)) > room {
			out = append(truncateUTF8(out, room), b.limitMessage()...)
			b.truncated = true
		}
	}
	if len(out) == 0 {
		return
	}
	n, err := b.file.Write(out)
	b.crc = crc32.Update(b.crc, crc32.IEEETable, out[:n])
	b.size.Add(int64(n))
	if err != nil {
		b.err = fmt.Errorf("write trace file: %w", err)
	}
	if n > 0 {
		select {
		case b.ready <- struct{}{}:
		default:
		}
	}
}
