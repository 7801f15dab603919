package runner

import (
	"context"
	"io"

	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/jobspec"
)

// GitLab is the part of GitLab the loop talks to; *gitlab.Client implements it.
// Every method is safe for concurrent use and returns when ctx is done.
type GitLab interface {
	// RequestJob long-polls POST /jobs/request. It returns a nil job on 204, with the
	// X-GitLab-Last-Update value to echo next time. gitlab.ErrForbidden on 403,
	// gitlab.ErrConflict on 409, an ErrTransient error on 503 and other 5xx.
	RequestJob(ctx context.Context, rc gitlab.RunnerCredentials, lastUpdate string) (*jobspec.Job, string, error)
	// UpdateJob sends PUT /jobs/:id once.
	UpdateJob(ctx context.Context, jc gitlab.JobCredentials, req gitlab.UpdateJobRequest) (gitlab.UpdateJobResult, error)
	// PatchTrace sends PATCH /jobs/:id/trace once with data starting at offset.
	PatchTrace(ctx context.Context, jc gitlab.JobCredentials, offset int64, data []byte) (gitlab.PatchTraceResult, error)
}

// TokenResetter is a GitLab that can also rotate the runner's authentication token with
// POST /runners/reset_authentication_token; *gitlab.Client is one. The old token stops
// working when GitLab answers. A runner whose client is not one keeps its token.
type TokenResetter interface {
	ResetToken(ctx context.Context, url, token string) (gitlab.Registration, error)
}

// Executor runs one job to its end. Run writes the job's log to log as it is produced and
// returns the outcome. Cancelling ctx aborts the job at once (cleanup still happens before
// Run returns); closing graceful asks for GitLab's graceful cancel: stop the script, run
// after_script, upload when:always artifacts. Run is called concurrently for different jobs.
type Executor interface {
	Run(ctx context.Context, job *jobspec.Job, log io.Writer, graceful <-chan struct{}) jobspec.Result
}
