// Package compiler owns the translation of a `.gitlab-ci.yml` into a pipeline: the jobs
// that a push to the repository's current commit would create on GitLab, each fully
// resolved (includes, extends, anchors, !reference, defaults, parallel/matrix, rules),
// or the list of problems GitLab would reject the file for, each naming file, line and
// job.
//
// It is pure: it reads the configuration and the files it includes from an fs.FS (and
// the files of other projects, remote URLs and templates from the mirrors in
// Input.Mirrors) and does nothing else. The caller describes the commit (GitState, which package pipeline
// reads with git) that the predefined variables are made from.
//
// A trigger job whose trigger:include names local files is a bridge: its child pipeline
// is compiled with it (Job.Trigger), for the same commit, as GitLab creates it.
//
// Keywords that only mean something on a GitLab server (unmirrored includes, trigger:project,
// secrets, id_tokens, release, pages, ...) are reported as not supported locally rather
// than dropped, so that a local run never quietly differs from the real one.
package compiler
