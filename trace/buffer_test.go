package trace

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func newTestBuffer(t testing.TB, opts Options) *Buffer {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

// readAll returns the ready bytes through ReadAt, as a shipper sees them.
func readAll(t testing.TB, b *Buffer) []byte {
	t.Helper()
	p := make([]byte, b.Len())
	n, err := b.ReadAt(p, 0)
	if err != nil && !(errors.Is(err, io.EOF) && n == 0 && len(p) == 0) {
		t.Fatalf("ReadAt(0..%d) = %d, %v", len(p), n, err)
	}
	return p[:n]
}

func limitLine(limit int64) string {
	return fmt.Sprintf("\n\x1b[31;1mJob's log exceeded limit of %d bytes.\n"+
		"Job execution will continue but no more output will be collected.\x1b[0;m\n", limit)
}

func TestLimit(t *testing.T) {
	tests := []struct {
		name   string
		limit  int64
		masks  []string
		writes []string
		want   string
		finish bool
	}{
		{name: "under the limit", limit: 20, writes: []string{"hello\n"}, want: "hello\n"},
		{name: "exactly the limit", limit: 6, writes: []string{"hello\n"}, want: "hello\n"},
		{name: "exceeded in one write", limit: 5, writes: []string{"hello world"}, want: "hello" + limitLine(5)},
		{name: "exceeded by a later write, the rest dropped", limit: 8, writes: []string{"abcde", "fghij", "klm"}, want: "abcdefgh" + limitLine(8)},
		{name: "exactly full, then one more byte", limit: 3, writes: []string{"abc", "d"}, want: "abc" + limitLine(3)},
		{name: "counts bytes after masking", limit: 10, masks: []string{"pw"}, writes: []string{"a pw b pw c"}, want: "a [MASKED]" + limitLine(10)},
		{name: "never splits a UTF-8 character", limit: 2, writes: []string{"aé"}, want: "a" + limitLine(2)},
		{name: "held-back bytes count when Finish releases them", limit: 3, masks: []string{"secret"}, writes: []string{"ab sec"}, want: "ab " + limitLine(3), finish: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestBuffer(t, Options{Limit: tc.limit, Masks: tc.masks})
			for _, w := range tc.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v; want %d, nil", w, n, err, len(w))
				}
				if max := tc.limit + int64(len(limitLine(tc.limit))); b.Len() > max {
					t.Fatalf("Len() = %d > limit + truncation line = %d", b.Len(), max)
				}
			}
			if tc.finish {
				b.Finish()
			}
			if diff := cmp.Diff(tc.want, string(readAll(t, b))); diff != "" {
				t.Errorf("log -want +got:\n%s", diff)
			}
		})
	}
}

func TestTruncateUTF8(t *testing.T) {
	tests := []struct {
		in   string
		n    int64
		want string
	}{
		{"abc", 0, ""},
		{"abc", 5, "abc"},
		{"a€b", 1, "a"}, // € is 3 bytes
		{"a€b", 2, "a"},
		{"a€b", 3, "a"},
		{"a€b", 4, "a€"},
		{"\x80\x80\x80\x80\x80", 4, "\x80\x80\x80\x80"}, // not UTF-8: cut where asked
	}
	for _, tc := range tests {
		if got := string(truncateUTF8([]byte(tc.in), tc.n)); got != tc.want {
			t.Errorf("truncateUTF8(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestChecksum(t *testing.T) {
	b := newTestBuffer(t, Options{Masks: []string{"hidden"}})
	if got, want := b.Checksum(), "crc32:00000000"; got != want {
		t.Errorf("empty Checksum() = %s, want %s", got, want)
	}
	// The IEEE check value: crc32("123456789") = cbf43926.
	if _, err := b.Write([]byte("123456789")); err != nil {
		t.Fatal(err)
	}
	if got, want := b.Checksum(), "crc32:cbf43926"; got != want {
		t.Errorf("Checksum() = %s, want %s", got, want)
	}
	for _, w := range []string{" hid", "den ", strings.Repeat("x", 100_000), " hidd"} {
		if _, err := b.Write([]byte(w)); err != nil {
			t.Fatal(err)
		}
		if got, want := b.Checksum(), fmt.Sprintf("crc32:%08x", crc32.ChecksumIEEE(readAll(t, b))); got != want {
			t.Errorf("after %d-byte write: Checksum() = %s, crc32 of ReadAt(0..Len) = %s", len(w), got, want)
		}
	}
	b.Finish()
	if got, want := b.Checksum(), fmt.Sprintf("crc32:%08x", crc32.ChecksumIEEE(readAll(t, b))); got != want {
		t.Errorf("after Finish: Checksum() = %s, crc32 of ReadAt(0..Len) = %s", got, want)
	}
}

func TestReadAt(t *testing.T) {
	b := newTestBuffer(t, Options{})
	if _, err := b.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		off     int64
		size    int
		want    string
		wantErr error
	}{
		{off: 0, size: 4, want: "0123"},
		{off: 6, size: 4, want: "6789"},
		{off: 2, size: 4, want: "2345"}, // re-reading an older offset, as after a 416
		{off: 8, size: 4, want: "89", wantErr: io.EOF},
		{off: 10, size: 4, want: "", wantErr: io.EOF},
		{off: 50, size: 4, want: "", wantErr: io.EOF},
	}
	for _, tc := range tests {
		p := make([]byte, tc.size)
		n, err := b.ReadAt(p, tc.off)
		if string(p[:n]) != tc.want || !errors.Is(err, tc.wantErr) {
			t.Errorf("ReadAt(%d bytes, %d) = %q, %v; want %q, %v", tc.size, tc.off, p[:n], err, tc.want, tc.wantErr)
		}
	}
	if _, err := b.ReadAt(make([]byte, 1), -1); err == nil {
		t.Error("ReadAt at a negative offset: no error")
	}
}

func TestFinishAndClose(t *testing.T) {
	dir := t.TempDir()
	b, err := New(Options{Dir: dir, Masks: []string{"s3cr3t"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write([]byte("out s3cr")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.Done():
		t.Fatal("Done closed before Finish")
	default:
	}
	b.Finish()
	b.Finish() // idempotent
	<-b.Done()
	if n, err := b.Write([]byte("dropped")); n != len("dropped") || err != nil {
		t.Errorf("Write after Finish = %d, %v; want %d, nil", n, err, len("dropped"))
	}
	if got, want := string(readAll(t, b)), "out s3cr"; got != want {
		t.Errorf("log = %q, want %q", got, want)
	}

	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("temp dir holds %v, %v; want the one trace file", entries, err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("after Close the temp dir holds %v, %v; want nothing", entries, err)
	}
	if n, err := b.Write([]byte("x")); n != 0 || !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %d, %v; want 0, ErrClosed", n, err)
	}
	if _, err := b.ReadAt(make([]byte, 1), 0); !errors.Is(err, ErrClosed) {
		t.Errorf("ReadAt after Close = %v, want ErrClosed", err)
	}
}

func TestCloseWithoutFinishDropsHeldBytes(t *testing.T) {
	b, err := New(Options{Dir: t.TempDir(), Masks: []string{"s3cr3t"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write([]byte("out s3cr")); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	<-b.Done()
	if got := b.Len(); got != int64(len("out ")) {
		t.Errorf("Len() = %d, want %d", got, len("out "))
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(Options{Limit: -1, Dir: t.TempDir()}); err == nil {
		t.Error("New with a negative limit: no error")
	}
	if _, err := New(Options{Dir: t.TempDir() + "/missing"}); err == nil {
		t.Error("New in a missing directory: no error")
	}
}

func TestStorageFailure(t *testing.T) {
	b, err := New(Options{Dir: t.TempDir(), Masks: []string{"s3cr3t"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close() // reports the file closed twice; the removal is what matters here
	if _, err := b.Write([]byte("kept\n")); err != nil {
		t.Fatal(err)
	}
	b.file.Close() // the disk goes away under the buffer
	line := "lost s3cr3t line\n"
	if n, err := b.Write([]byte(line)); n != len(line) || err != nil {
		t.Fatalf("Write on a failed store = %d, %v; want %d, nil so the job goes on", n, err, len(line))
	}
	err = b.Err()
	if err == nil {
		t.Fatal("Err() = nil after a failed store")
	}
	if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "lost") {
		t.Errorf("Err() carries log content: %v", err)
	}
	if got := b.Len(); got != int64(len("kept\n")) {
		t.Errorf("Len() = %d, want %d", got, len("kept\n"))
	}
}

func TestConcurrentWritersAndReader(t *testing.T) {
	const writers, lines, secret = 8, 200, "SECRETVALUE"
	b := newTestBuffer(t, Options{Masks: []string{secret}})

	var shipped bytes.Buffer
	shipDone := make(chan error, 1)
	go func() { // a shipper: read new bytes whenever Ready says so, until Done
		var off int64
		p := make([]byte, 4096)
		for {
			var finished bool
			select {
			case <-b.Ready():
			case <-b.Done():
				finished = true
			case <-time.After(10 * time.Second):
				shipDone <- errors.New("shipper: no progress for 10s")
				return
			}
			for off < b.Len() {
				n, err := b.ReadAt(p, off)
				if err != nil && !errors.Is(err, io.EOF) {
					shipDone <- err
					return
				}
				shipped.Write(p[:n])
				off += int64(n)
			}
			if finished && off == b.Len() {
				shipDone <- nil
				return
			}
		}
	}()

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range lines {
				fmt.Fprintf(b, "writer %d line %d token=%s\n", w, i, secret)
			}
		})
	}
	wg.Wait()
	b.Finish()
	if err := <-shipDone; err != nil {
		t.Fatal(err)
	}

	got := shipped.String()
	if strings.Contains(got, secret) {
		t.Error("the secret reached the shipped log")
	}
	if n := strings.Count(got, "\n"); n != writers*lines {
		t.Errorf("shipped %d lines, want %d", n, writers*lines)
	}
	for w := range writers {
		for i := range lines {
			if line := fmt.Sprintf("writer %d line %d token=[MASKED]\n", w, i); !strings.Contains(got, line) {
				t.Fatalf("line %q missing or torn", line)
			}
		}
	}
}

func TestReadyNeverBlocksWriters(t *testing.T) {
	b := newTestBuffer(t, Options{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 1000 {
			b.Write([]byte("nobody reads Ready\n"))
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("writes blocked while nobody drains Ready")
	}
	select {
	case <-b.Ready():
	default:
		t.Error("Ready has no signal after writes")
	}
}

func TestMemoryStaysBounded(t *testing.T) {
	b := newTestBuffer(t, Options{Masks: []string{"s3cr3t-value", "another-secret"}})
	line := []byte("some build output s3cr3t-value and another-secre\n")
	big := bytes.Repeat(line, (8<<20)/len(line)) // 8 MiB in a single write
	if _, err := b.Write(big); err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		if _, err := b.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	const bound = 4 * chunkSize
	if c := cap(b.scratch); c > bound {
		t.Errorf("output scratch grew to %d bytes, want at most %d", c, bound)
	}
	if c := cap(b.masker.held); c > bound {
		t.Errorf("held-back buffer grew to %d bytes, want at most %d", c, bound)
	}
	fi, err := b.file.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != b.Len() {
		t.Errorf("file holds %d bytes, Len() = %d: the log is not all on disk", fi.Size(), b.Len())
	}
}
