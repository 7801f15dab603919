// Package gitlab is the runner side of GitLab's runner coordination API (/api/v4/runners and
// /api/v4/jobs): registration, job requests, state updates, trace patches and artifacts.
//
// Each method makes one HTTP call (artifact uploads may follow a 307/308) under a timeout
// and never retries: the caller owns the pace, and uses Retry with a Backoff where GitLab's
// semantics allow another try (errors.Is(err, ErrTransient)). Tokens travel only in headers
// and bodies, never in URLs, errors or redirects to another host.
//
// Every call, registration included, goes through one net/http exchange (client.go) and one
// mapping of unexpected answers (answerError): 401/403 ErrForbidden, 404 ErrNotFound, anything
// else a *StatusError.
package gitlab
