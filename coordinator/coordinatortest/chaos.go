package coordinatortest

import (
	"math/rand/v2"
	"net/http"
	"sync"
)

// Chaos is middleware in front of a coordinator for fault tests: it fails a seeded share
// of requests with 500 and can take the whole API down, so every client (the runner and
// the job pods) meets the same faults. A failed request never reaches the coordinator:
// a 500 here means nothing happened there, as with a proxy in front of GitLab that fails
// before forwarding.
type Chaos struct {
	next http.Handler

	mu       sync.Mutex
	rng      *rand.Rand
	rate     float64
	down     bool
	failed   int // requests answered 500
	dropped  int // requests whose connection was closed while down
	forwards int
}

// NewChaos wraps next; rate is the share of requests failed with 500 (0 to 1), drawn from
// a generator seeded with seed.
func NewChaos(next http.Handler, seed uint64, rate float64) *Chaos {
	return &Chaos{next: next, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), rate: rate}
}

// SetDown takes the API down (every request's connection is closed unanswered) or back up.
func (c *Chaos) SetDown(down bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = down
}

// SetRate changes the share of requests failed with 500.
func (c *Chaos) SetRate(rate float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rate = rate
}

// Counts says how many requests were failed with 500, dropped while down, and forwarded.
func (c *Chaos) Counts() (failed, dropped, forwarded int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed, c.dropped, c.forwards
}

func (c *Chaos) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	down := c.down
	fail := !down && c.rng.Float64() < c.rate
	switch {
	case down:
		c.dropped++
	case fail:
		c.failed++
	default:
		c.forwards++
	}
	c.mu.Unlock()
	switch {
	case down:
		// What a client sees of a server that is gone: the connection ends, no answer.
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
			return
		}
		w.WriteHeader(http.StatusBadGateway)
	case fail:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"message":"500 Internal Server Error (injected)"}`))
	default:
		c.next.ServeHTTP(w, r)
	}
}
