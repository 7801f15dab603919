package coordinator

import (
	"crypto/subtle"
	"slices"
	"strconv"
	"time"

	"github.com/kuberunner/kuberunner/jobspec"
)

// store is the coordinator's state. Every method expects Server.mu to be held.
type store struct {
	jobs         map[int64]*JobRecord
	queue        []int64 // pending jobs not yet handed out, oldest first
	lastJobID    int64
	runners      map[int64]*RunnerRecord
	runnerTokens map[string]int64
	lastRunnerID int64
	queueVersion int64 // sent as X-GitLab-Last-Update
}

func newStore() store {
	return store{
		jobs:         make(map[int64]*JobRecord),
		runners:      make(map[int64]*RunnerRecord),
		runnerTokens: make(map[string]int64),
	}
}

func (st *store) addRunner(spec RunnerSpec, token string, expires time.Time) *RunnerRecord {
	st.lastRunnerID++
	rr := &RunnerRecord{
		ID:             st.lastRunnerID,
		Token:          token,
		TokenExpiresAt: expires,
		Description:    spec.Description,
		Tags:           slices.Clone(spec.Tags),
		RunUntagged:    spec.RunUntagged,
		Locked:         spec.Locked,
		Paused:         spec.Paused,
		MaximumTimeout: spec.MaximumTimeout,
	}
	st.runners[rr.ID] = rr
	st.runnerTokens[token] = rr.ID
	return rr
}

// runnerByToken authenticates a runner token at now; "" and an expired token never match.
func (st *store) runnerByToken(token string, now time.Time) (*RunnerRecord, bool) {
	if token == "" {
		return nil, false
	}
	id, ok := st.runnerTokens[token]
	if !ok {
		return nil, false
	}
	rr := st.runners[id]
	if !rr.TokenExpiresAt.IsZero() && !now.Before(rr.TokenExpiresAt) {
		return nil, false
	}
	return rr, true
}

func (st *store) removeRunner(rr *RunnerRecord) {
	delete(st.runnerTokens, rr.Token)
	delete(st.runners, rr.ID)
}

func (st *store) rotateToken(rr *RunnerRecord, token string, expires time.Time) {
	delete(st.runnerTokens, rr.Token)
	rr.Token, rr.TokenExpiresAt = token, expires
	st.runnerTokens[token] = rr.ID
}

// contact notes that a runner manager called in.
func (rr *RunnerRecord) contact(systemID string, now time.Time) {
	rr.ContactedAt = now
	if systemID != "" && !slices.Contains(rr.SystemIDs, systemID) {
		rr.SystemIDs = append(rr.SystemIDs, systemID)
	}
}

func (st *store) lastUpdate() string { return strconv.FormatInt(st.queueVersion, 10) }

// matches reports whether a runner may take a job with these tags, as GitLab decides it:
// every job tag must be among the runner's, and untagged jobs need run_untagged.
func (rr *RunnerRecord) matches(tags []string) bool {
	if len(tags) == 0 {
		return rr.RunUntagged
	}
	for _, t := range tags {
		if !slices.Contains(rr.Tags, t) {
			return false
		}
	}
	return true
}

// takeJob hands the oldest matching queued job to rr. A runner that announced two-phase
// commit must confirm it with PUT state=running; an older runner gets it running at once.
func (st *store) takeJob(rr *RunnerRecord, twoPhase bool, now time.Time) (*JobRecord, bool) {
	for i, id := range st.queue {
		rec := st.jobs[id]
		if !rr.matches(rec.Tags) {
			continue
		}
		st.queue = slices.Delete(st.queue, i, i+1)
		rec.RunnerID = rr.ID
		if rr.MaximumTimeout > 0 && rec.Job.RunnerInfo.Timeout > rr.MaximumTimeout {
			rec.Job.RunnerInfo.Timeout = rr.MaximumTimeout
		}
		rec.Job.JobInfo.TimeInQueueSeconds = now.Sub(rec.QueuedAt).Seconds()
		st.fillDependencies(&rec.Job)
		if !twoPhase {
			rec.Status, rec.StartedAt = StatusRunning, now
		}
		return rec, true
	}
	return nil, false
}

// fillDependencies completes what GitLab itself adds to a dependency: the token to download
// with and the archive's name and size, when the dependency is a job of this server.
func (st *store) fillDependencies(job *jobspec.Job) {
	for i := range job.Dependencies {
		d := &job.Dependencies[i]
		dep, ok := st.jobs[d.ID]
		if !ok {
			continue
		}
		if d.Token == "" {
			d.Token = dep.Job.Token
		}
		if d.Name == "" {
			d.Name = dep.Job.JobInfo.Name
		}
		if a, ok := dep.artifactOfType("archive"); ok && d.ArtifactsFile == nil {
			d.ArtifactsFile = &jobspec.ArtifactsFile{Filename: a.Filename, Size: a.Size}
		}
	}
}

// authJob finds a job and checks its token: found=false is 404, ok=false is 403.
func (st *store) authJob(id int64, token string) (rec *JobRecord, found, ok bool) {
	rec, found = st.jobs[id]
	if !found {
		return nil, false, false
	}
	return rec, true, tokenEqual(rec.Job.Token, token)
}

// mayDownload reports whether token may download job id's artifacts: the job's own token,
// or (as GitLab authorises it) the token of an unfinished job that depends on it.
func (st *store) mayDownload(id int64, token string) bool {
	if rec, ok := st.jobs[id]; ok && tokenEqual(rec.Job.Token, token) {
		return true
	}
	for _, rec := range st.jobs {
		if rec.Finished() || !tokenEqual(rec.Job.Token, token) {
			continue
		}
		for _, d := range rec.Job.Dependencies {
			if d.ID == id {
				return true
			}
		}
	}
	return false
}

func (st *store) removeFromQueue(id int64) {
	if i := slices.Index(st.queue, id); i >= 0 {
		st.queue = slices.Delete(st.queue, i, i+1)
	}
}

// tokenEqual compares secrets in constant time; an empty token never matches.
func tokenEqual(want, got string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}
