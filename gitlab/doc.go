// Package gitlab is the runner side of GitLab's runner coordination API (/api/v4/runners and
// /api/v4/jobs): registration, job requests, state updates, trace patches and artifacts.
// Each method makes one logical call with a timeout; retry policy with backoff lives where
// GitLab's semantics allow it and is documented on each method. Tokens never appear in errors.
package gitlab
