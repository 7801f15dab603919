// Package testio holds I/O helpers shared by tests of several packages.
package testio

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer safe for one writer goroutine and concurrent readers, such as a
// logger written by the code under test while the test reads what it logged.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
