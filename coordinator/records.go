package coordinator

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/kuberunner/kuberunner/jobspec"
)

// Job statuses, as GitLab names them.
const (
	StatusPending   = "pending"   // queued, or handed to a runner that has not confirmed it yet
	StatusRunning   = "running"   // confirmed by its runner
	StatusCanceling = "canceling" // graceful cancel asked; the runner still reports the end
	StatusCanceled  = "canceled"
	StatusSuccess   = "success"
	StatusFailed    = "failed"
)

// JobRecord is everything the coordinator knows about one job.
type JobRecord struct {
	ID   int64
	Job  jobspec.Job // as handed out once a runner took it (timeout capped, dependencies filled)
	Tags []string
	// Status is one of the Status constants.
	Status string
	// RunnerID is the runner the job was handed to; 0 while queued.
	RunnerID int64
	// Updates holds every PUT /jobs/:id body accepted, in order, keep-alives included.
	Updates []StateUpdate
	// Trace is the whole trace as received.
	Trace []byte
	// Artifacts holds every accepted upload, in order.
	Artifacts     []StoredArtifact
	FailureReason jobspec.FailureReason
	ExitCode      *int
	// ChecksumMismatch is set when a final PUT's output.checksum or output.bytesize disagreed
	// with the stored trace. GitLab records this rather than rejecting the update.
	ChecksumMismatch bool
	QueuedAt         time.Time
	StartedAt        time.Time // when the runner confirmed it with state=running
	FinishedAt       time.Time
}

// Finished reports whether the job reached a final status.
func (r JobRecord) Finished() bool {
	switch r.Status {
	case StatusSuccess, StatusFailed, StatusCanceled:
		return true
	}
	return false
}

// StateUpdate is one accepted PUT /jobs/:id body, less the token.
type StateUpdate struct {
	State         string
	FailureReason string
	ExitCode      *int
	Checksum      string
	Bytesize      int64
	At            time.Time
}

// StoredArtifact is one accepted artifacts upload.
type StoredArtifact struct {
	Name     string // Filename less the extension of its format (.zip, .gz), as the job names it
	Filename string // the multipart filename the runner sent
	Format   string // zip | gzip | raw
	Type     string // archive, junit, dotenv, ...
	ExpireIn string
	Path     string // the file on disk
	Size     int64
}

// RunnerRecord is one registered runner.
type RunnerRecord struct {
	ID    int64
	Token string
	// TokenExpiresAt is when Token stops working; zero: never (Options.TokenLifetime 0).
	TokenExpiresAt time.Time
	Description    string
	Tags           []string
	RunUntagged    bool
	Locked         bool
	Paused         bool
	MaximumTimeout int // seconds; 0 = no cap
	// SystemIDs are the runner managers seen (verify, job requests), in order of first contact.
	SystemIDs   []string
	ContactedAt time.Time
}

// Change is one change of a job's record, as OnChange receives it.
type Change struct {
	// JobRecord is the record after the change, its Trace left nil.
	JobRecord
	// Appended are the trace bytes added since the previous Change of this job; they
	// start at TraceOffset in the whole trace.
	Appended    []byte
	TraceOffset int
}

func (r *JobRecord) clone() JobRecord {
	c := r.cloneWithoutTrace()
	c.Trace = slices.Clone(r.Trace)
	return c
}

// cloneWithoutTrace deep-copies everything but the trace, which only grows.
func (r *JobRecord) cloneWithoutTrace() JobRecord {
	c := *r
	c.Job = cloneJob(r.Job)
	c.Tags = slices.Clone(r.Tags)
	c.Updates = slices.Clone(r.Updates)
	for i := range c.Updates {
		c.Updates[i].ExitCode = cloneInt(c.Updates[i].ExitCode)
	}
	c.Trace = nil
	c.Artifacts = slices.Clone(r.Artifacts)
	c.ExitCode = cloneInt(r.ExitCode)
	return c
}

func (r *RunnerRecord) clone() RunnerRecord {
	c := *r
	c.Tags = slices.Clone(r.Tags)
	c.SystemIDs = slices.Clone(r.SystemIDs)
	return c
}

// cloneJob deep-copies a job through its wire form: jobspec.Job is a tree of slices and
// pointers, and its JSON round trip is exactly what a runner would receive, so this stays
// correct as fields are added to jobspec.
func cloneJob(j jobspec.Job) jobspec.Job {
	b, err := json.Marshal(j)
	if err != nil {
		panic("coordinator: marshal job: " + err.Error()) // plain data: cannot fail
	}
	var c jobspec.Job
	if err := json.Unmarshal(b, &c); err != nil {
		panic("coordinator: unmarshal job: " + err.Error())
	}
	return c
}

func cloneInt(p *int) *int {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
