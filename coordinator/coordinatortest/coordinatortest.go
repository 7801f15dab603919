// Package coordinatortest serves a coordinator.Server on loopback for tests: the fake GitLab
// every runner test talks to.
package coordinatortest

import (
	"net/http/httptest"
	"testing"

	"github.com/kuberunner/kuberunner/coordinator"
)

// Start serves a new coordinator on an httptest server on loopback and closes both when the
// test ends. It returns the server and its base URL, without /api/v4.
func Start(t testing.TB, opts coordinator.Options) (*coordinator.Server, string) {
	t.Helper()
	s, err := coordinator.New(opts)
	if err != nil {
		t.Fatalf("start coordinator: %v", err)
	}
	hs := httptest.NewServer(s)
	// Cleanups run last-registered first: closing the coordinator first answers parked job
	// requests, so that the HTTP server's Close does not wait out their long poll.
	t.Cleanup(hs.Close)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close coordinator: %v", err)
		}
	})
	return s, hs.URL
}
