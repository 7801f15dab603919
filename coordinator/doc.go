// Package coordinator owns the server half of GitLab's runner coordination API
// (/api/v4/runners and /api/v4/jobs): runner registration and verification, job requests
// with long polling and two-phase commit, state updates, trace patches and artifacts.
//
// It follows GitLab's semantics (lib/api/ci/runner.rb and the services behind it) closely
// enough that the runner code path exercised against it is the one production uses. It is
// the fake GitLab of every runner test and the embedded coordinator of local pipelines
// (`kuberunner pipeline run`), so it keeps everything in memory except uploaded artifacts,
// which are streamed to files.
//
// Where it knowingly differs from GitLab:
//   - a parked /jobs/request answers 201 with the job as soon as one is enqueued; GitLab's
//     Workhorse answers 204 and lets the runner ask again;
//   - Locked has no effect: there are no projects to lock a runner to;
//   - PATCH /trace checks that the Content-Range end is start+len(body)-1; GitLab ignores it.
package coordinator
