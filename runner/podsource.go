package runner

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/kuberunner/kuberunner/trace"
)

// podSourcePoll is how often the pod's shipper looks for new output in the trace file.
const podSourcePoll = 100 * time.Millisecond

// podSource is the pod's part of the trace as a shipper reads it: the trace file from its
// first byte (the trace's byte base) up to the output limit, then a tail the shipper adds
// once the agent is done (the limit line, the verdict line). The agent only appends to the
// file, and masked, so every byte below the file's size is final.
type podSource struct {
	f     *os.File
	base  int64
	limit int64 // over the whole trace; 0: none

	mu     sync.Mutex
	size   int64 // file bytes seen
	sealed bool  // the file is complete and tail is set
	tail   []byte

	ready chan struct{}
	quit  chan struct{}
}

func openPodSource(path string, base, limit int64) (*podSource, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o666)
	if err != nil {
		return nil, fmt.Errorf("open the trace file: %w", err)
	}
	// prepare and the job image may run as other users than the shipper: all append to it.
	_ = f.Chmod(0o666)
	s := &podSource{f: f, base: base, limit: limit, ready: make(chan struct{}, 1), quit: make(chan struct{})}
	s.poll()
	go s.watch()
	return s, nil
}

// watch notices growth: the agent writes from another container, so there is no event to
// wait on (inotify would need the same kernel view; polling a stat is cheap).
func (s *podSource) watch() {
	t := time.NewTicker(podSourcePoll)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
			s.poll()
		}
	}
}

func (s *podSource) poll() {
	fi, err := s.f.Stat()
	if err != nil {
		return
	}
	s.mu.Lock()
	grew := !s.sealed && fi.Size() > s.size
	if grew {
		s.size = fi.Size()
	}
	s.mu.Unlock()
	if grew {
		s.notify()
	}
}

func (s *podSource) notify() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// fileLen is how much of the file belongs to the trace. Called with mu held.
func (s *podSource) fileLen() int64 {
	if s.limit > 0 {
		return max(min(s.size, s.limit-s.base), 0)
	}
	return s.size
}

// truncated reports whether the limit cut the file. Called with mu held.
func (s *podSource) truncated() bool { return s.fileLen() < s.size }

func (s *podSource) Len() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base + s.fileLen() + int64(len(s.tail))
}

func (s *podSource) Ready() <-chan struct{} { return s.ready }

// ReadAt reads trace bytes from off, as io.ReaderAt.
func (s *podSource) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	fileEnd := s.base + s.fileLen()
	tail := s.tail
	s.mu.Unlock()
	if off < s.base {
		return 0, fmt.Errorf("read trace at %d: before the pod's part at %d", off, s.base)
	}
	n := 0
	if off < fileEnd {
		want := p[:min(int64(len(p)), fileEnd-off)]
		m, err := s.f.ReadAt(want, off-s.base)
		n += m
		if err != nil && !errors.Is(err, io.EOF) {
			return n, err
		}
		if m < len(want) {
			return n, io.EOF
		}
	}
	if n < len(p) {
		toff := off + int64(n) - fileEnd
		if toff < int64(len(tail)) {
			n += copy(p[n:], tail[toff:])
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// seal takes the file as complete and appends the limit line (when the limit cut the file)
// and then footer.
func (s *podSource) seal(footer []byte) {
	s.poll()
	s.mu.Lock()
	if !s.sealed {
		s.sealed = true
		if s.truncated() {
			s.tail = append(s.tail, trace.LimitMessage(s.limit)...)
		}
		s.tail = append(s.tail, footer...)
	}
	s.mu.Unlock()
	s.notify()
}

// consumed is how many file bytes the agent need not wait for once sent is acknowledged:
// those sent, and those the limit cut off.
func (s *podSource) consumed(sent int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.truncated() {
		return s.size
	}
	return min(max(sent-s.base, 0), s.size)
}

func (s *podSource) Close() error {
	close(s.quit)
	return s.f.Close()
}
