package coordinatortest_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/kuberunner/kuberunner/coordinator/coordinatortest"
)

func TestChaos(t *testing.T) {
	var reached atomic.Int64
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) })
	pattern := func(seed uint64) []int {
		c := coordinatortest.NewChaos(next, seed, 0.2)
		srv := httptest.NewServer(c)
		defer srv.Close()
		var codes []int
		for range 500 {
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			codes = append(codes, resp.StatusCode)
		}
		failed, dropped, forwarded := c.Counts()
		if failed < 60 || failed > 140 || dropped != 0 || failed+forwarded != 500 {
			t.Errorf("seed %d: %d failed, %d dropped, %d forwarded of 500 at rate 0.2", seed, failed, dropped, forwarded)
		}
		c.SetDown(true)
		if resp, err := http.Get(srv.URL); err == nil {
			resp.Body.Close()
			t.Errorf("while down a request got an answer: %d", resp.StatusCode)
		}
		return codes
	}
	reached.Store(0)
	a := pattern(7)
	forwarded := reached.Load()
	b := pattern(7)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("request %d: %d then %d: one seed must give one pattern", i, a[i], b[i])
		}
	}
	ok := 0
	for _, c := range a {
		if c == http.StatusOK {
			ok++
		}
	}
	if int64(ok) != forwarded {
		t.Errorf("%d answers 200 but %d requests reached the coordinator: a failed request must not", ok, forwarded)
	}
}
