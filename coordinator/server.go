package coordinator

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"
)

// Defaults of Options, chosen as GitLab's own where it has one.
const (
	DefaultLongPoll            = 2 * time.Second
	DefaultTraceUpdateInterval = 3 * time.Second
	// DefaultMaxTraceSize is GitLab's default ci_jobs_trace_size_limit (100 MiB).
	DefaultMaxTraceSize = 100 << 20
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// RegistrationToken is the one legacy POST /runners accepts; "" disables legacy registration.
	RegistrationToken string
	// TokenLifetime, when positive, gives every runner token issued (AddRunner, registration,
	// reset) an expiry that far ahead, as GitLab's runner token expiration policy does; an
	// expired token is refused like an unknown one. 0: tokens never expire.
	TokenLifetime time.Duration
	// LongPoll is how long /jobs/request waits for a job before answering 204 (default 2s).
	LongPoll time.Duration
	// TraceUpdateInterval is sent as X-GitLab-Trace-Update-Interval in whole seconds, at
	// least 1 (default 3s).
	TraceUpdateInterval time.Duration
	// ArtifactsDir receives uploaded archives; "" means a temporary directory removed by Close.
	ArtifactsDir string
	// MaxArtifactSize caps one upload in bytes; 0 means unlimited. Larger uploads get 413.
	MaxArtifactSize int64
	// MaxTraceSize caps a job's whole trace in bytes (default DefaultMaxTraceSize). As in
	// GitLab, a patch that would pass it fails the job with trace_size_exceeded and gets 403;
	// there is no per-patch limit.
	MaxTraceSize int64
	// OnChange is called after every change of a job's record (status, updates, trace,
	// artifacts) with what changed: a deep copy of the record without its trace, and the
	// trace bytes appended since the last call for that job (a long log is not copied on
	// every patch). Calls happen outside the server's lock, one at a time and in the order of
	// the changes, possibly on the goroutine of another request; OnChange may call back into
	// the Server (Enqueue the next job of a pipeline, for example).
	OnChange func(Change)
}

// Server is an in-memory GitLab coordinator. It is safe for concurrent use.
type Server struct {
	opts         Options
	artifactsDir string
	ownDir       bool // artifactsDir was created by New and is removed by Close
	mux          *http.ServeMux
	closeOnce    sync.Once
	closed       chan struct{}

	mu          sync.Mutex
	state       store
	queueSignal chan struct{} // closed and replaced when a job may have become available
	outbox      []Change      // OnChange deliveries not yet made
	traceSent   map[int64]int // per job, the trace length OnChange was given so far
	flushing    bool          // a goroutine is delivering the outbox
}

// New returns a Server ready to serve; Close releases its artifacts directory.
func New(opts Options) (*Server, error) {
	switch {
	case opts.LongPoll < 0:
		return nil, fmt.Errorf("coordinator options: LongPoll %v is negative", opts.LongPoll)
	case opts.TraceUpdateInterval < 0:
		return nil, fmt.Errorf("coordinator options: TraceUpdateInterval %v is negative", opts.TraceUpdateInterval)
	case opts.MaxArtifactSize < 0:
		return nil, fmt.Errorf("coordinator options: MaxArtifactSize %d is negative", opts.MaxArtifactSize)
	case opts.TokenLifetime < 0:
		return nil, fmt.Errorf("coordinator options: TokenLifetime %v is negative", opts.TokenLifetime)
	case opts.MaxTraceSize < 0:
		return nil, fmt.Errorf("coordinator options: MaxTraceSize %d is negative", opts.MaxTraceSize)
	}
	if opts.LongPoll == 0 {
		opts.LongPoll = DefaultLongPoll
	}
	if opts.TraceUpdateInterval == 0 {
		opts.TraceUpdateInterval = DefaultTraceUpdateInterval
	}
	if opts.MaxTraceSize == 0 {
		opts.MaxTraceSize = DefaultMaxTraceSize
	}
	s := &Server{
		opts:        opts,
		closed:      make(chan struct{}),
		state:       newStore(),
		queueSignal: make(chan struct{}),
		traceSent:   map[int64]int{},
	}
	if opts.ArtifactsDir == "" {
		dir, err := os.MkdirTemp("", "kuberunner-coordinator-")
		if err != nil {
			return nil, fmt.Errorf("create artifacts dir: %w", err)
		}
		s.artifactsDir, s.ownDir = dir, true
	} else {
		if err := os.MkdirAll(opts.ArtifactsDir, 0o750); err != nil {
			return nil, fmt.Errorf("create artifacts dir: %w", err)
		}
		s.artifactsDir = opts.ArtifactsDir
	}
	s.mux = s.routes()
	return s, nil
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v4/runners/verify", s.handleVerify)
	mux.HandleFunc("POST /api/v4/runners", s.handleRegister)
	mux.HandleFunc("DELETE /api/v4/runners", s.handleUnregister)
	mux.HandleFunc("DELETE /api/v4/runners/managers", s.handleUnregisterManager)
	mux.HandleFunc("POST /api/v4/runners/reset_authentication_token", s.handleResetToken)
	mux.HandleFunc("POST /api/v4/jobs/request", s.handleRequest)
	mux.HandleFunc("PUT /api/v4/jobs/{id}", s.handleUpdate)
	mux.HandleFunc("PATCH /api/v4/jobs/{id}/trace", s.handleTrace)
	mux.HandleFunc("POST /api/v4/jobs/{id}/artifacts", s.handleUpload)
	mux.HandleFunc("GET /api/v4/jobs/{id}/artifacts", s.handleDownload)
	// A catch-all matches every method, so the mux never answers its own plain-text 404/405.
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeMessage(w, http.StatusNotFound, "404 Not Found")
	})
	return mux
}

// ServeHTTP serves the API under /api/v4.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close wakes parked job requests (they answer 204) and removes the artifacts directory if
// New created it. Serve no requests after Close.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		if s.ownDir {
			if rmErr := os.RemoveAll(s.artifactsDir); rmErr != nil {
				err = fmt.Errorf("remove artifacts dir: %w", rmErr)
			}
		}
	})
	return err
}

// mutate runs edit with s.mu held and, when edit reports that it changed job id's record,
// queues that change for OnChange; queued changes are delivered once the lock is released.
// Handlers change job records through it, so that no branch can skip the unlock or the
// notification.
func (s *Server) mutate(id int64, edit func() (changed bool)) {
	defer s.flushChanges()
	s.mu.Lock()
	defer s.mu.Unlock()
	if edit() {
		s.changed(id)
	}
}

// changed queues an OnChange delivery of job id's record with the trace bytes appended since
// the last one. Call with s.mu held, then s.flushChanges after unlocking.
func (s *Server) changed(id int64) {
	if s.opts.OnChange != nil {
		if rec, ok := s.state.jobs[id]; ok {
			from := s.traceSent[id]
			c := Change{JobRecord: rec.cloneWithoutTrace(), TraceOffset: from, Appended: slices.Clone(rec.Trace[from:])}
			s.traceSent[id] = len(rec.Trace)
			s.outbox = append(s.outbox, c)
		}
	}
}

// queueChanged wakes parked job requests. Call with s.mu held.
func (s *Server) queueChanged() {
	s.state.queueVersion++
	close(s.queueSignal)
	s.queueSignal = make(chan struct{})
}

// flushChanges delivers queued OnChange calls outside the lock. Only one goroutine delivers
// at a time, which keeps the calls in order and lets OnChange call back into the Server.
func (s *Server) flushChanges() {
	if s.opts.OnChange == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flushing {
		return
	}
	s.flushing = true
	defer func() { s.flushing = false }()
	for len(s.outbox) > 0 {
		c := s.outbox[0]
		s.outbox[0] = Change{}
		s.outbox = s.outbox[1:]
		s.deliver(c)
	}
}

// deliver calls OnChange without the lock. It takes the lock back even when OnChange panics,
// so that flushChanges' deferred bookkeeping and unlock stay sound.
func (s *Server) deliver(c Change) {
	s.mu.Unlock()
	defer s.mu.Lock()
	s.opts.OnChange(c)
}
