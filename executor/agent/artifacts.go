package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/jobspec"
)

// uploadArtifacts archives and uploads each artifact whose `when` matches status. A path
// matching nothing is a warning, as in gitlab-runner; a failed upload fails the job.
func (a *agent) uploadArtifacts(ctx context.Context, vars jobspec.Variables, status string) error {
	var todo []jobspec.Artifact
	for _, art := range a.job.Artifacts {
		if whenMatches(art.When, status) {
			todo = append(todo, art)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	return a.section("upload_artifacts", "Uploading artifacts", func() error {
		if a.opts.Artifacts == nil {
			a.warnf("artifacts: no GitLab client; skipped")
			return nil
		}
		var errs []error
		for _, art := range todo {
			errs = append(errs, a.uploadArtifact(ctx, vars, art))
		}
		return errors.Join(errs...)
	})
}

// An upload failing with a 5xx or a lost connection is tried again for about a minute
// (1 s doubling to 15 s, eight tries): a GitLab restart or a short outage must not lose a
// job's artifacts. gitlab-runner's uploader gives up after three tries.
var (
	uploadBackoff = gitlab.Backoff{Min: time.Second, Max: 15 * time.Second, Factor: 2, Jitter: 0.2}
	uploadTries   = 8
)

func (a *agent) uploadArtifact(ctx context.Context, vars jobspec.Variables, art jobspec.Artifact) error {
	typ := art.ArtifactType
	if typ == "" {
		typ = "archive"
	}
	set := fileSet{paths: expandAll(vars, art.Paths), exclude: expandAll(vars, art.Exclude), untracked: art.Untracked}
	files, err := set.collect(ctx, a.cfg.ProjectDir)
	if err != nil {
		return fmt.Errorf("artifacts (%s): %w", typ, err)
	}
	if len(files) == 0 {
		a.warnf("artifacts (%s): no files match %v", typ, art.Paths)
		return nil
	}
	opts, err := artifactOptions(art, typ, vars, files)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp("", "kr-artifacts-*")
	if err != nil {
		return fmt.Errorf("artifacts (%s): %w", typ, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := writeArchive(tmp, opts.Format, a.cfg.ProjectDir, files); err != nil {
		return fmt.Errorf("artifacts (%s): %w", typ, err)
	}
	tries := 0
	err = gitlab.Retry(ctx, uploadBackoff, uploadTries, func(ctx context.Context) error {
		if tries++; tries > 1 {
			fmt.Fprintf(a.log, "Uploading %s artifacts again (try %d of %d)\n", typ, tries, uploadTries)
		}
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		// The file is seekable, so the client can follow a 307 to object storage.
		return a.opts.Artifacts.UploadArtifacts(ctx, a.credentials(), opts, tmp)
	})
	if err != nil {
		return fmt.Errorf("upload artifacts (%s): %w", typ, err)
	}
	fmt.Fprintf(a.log, "Uploaded %s artifacts: %d files as %s\n", typ, len(files), opts.Filename)
	return nil
}

func artifactOptions(art jobspec.Artifact, typ string, vars jobspec.Variables, files []string) (gitlab.ArtifactsOptions, error) {
	format := art.ArtifactFormat
	if format == "" {
		format = "zip"
	}
	name := vars.Expand(art.Name)
	if name == "" {
		name = "artifacts"
	}
	opts := gitlab.ArtifactsOptions{Format: format, Type: typ, ExpireIn: art.ExpireIn}
	switch format {
	case "zip":
		opts.Filename = name + ".zip"
	case "gzip":
		opts.Filename = name + ".gz"
	case "raw":
		if len(files) != 1 {
			return opts, fmt.Errorf("artifacts (%s): raw format takes exactly one file, %d match", typ, len(files))
		}
		opts.Filename = files[0]
	default:
		return opts, fmt.Errorf("artifacts (%s): unknown format %q", typ, format)
	}
	return opts, nil
}

func writeArchive(w io.Writer, format, root string, files []string) error {
	switch format {
	case "gzip":
		return writeGzip(w, root, files)
	case "raw":
		f, err := os.Open(filepath.Join(root, files[0]))
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	default:
		return writeZip(w, root, files)
	}
}

// downloadDependencies fetches and extracts the artifacts of earlier jobs, each with that
// job's own token.
func (a *agent) downloadDependencies(ctx context.Context) error {
	var deps []jobspec.Dependency
	for _, d := range a.job.Dependencies {
		if d.ArtifactsFile != nil && d.ArtifactsFile.Filename != "" {
			deps = append(deps, d)
		}
	}
	if len(deps) == 0 {
		return nil
	}
	return a.section("download_artifacts", "Downloading artifacts", func() error {
		if a.opts.Artifacts == nil {
			return errors.New("artifacts of dependencies: no GitLab client")
		}
		for _, d := range deps {
			if err := a.downloadDependency(ctx, d); err != nil {
				return err
			}
		}
		return nil
	})
}

func (a *agent) downloadDependency(ctx context.Context, d jobspec.Dependency) error {
	tmp, err := os.CreateTemp("", "kr-dependency-*.zip")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	jc := gitlab.JobCredentials{URL: a.cfg.GitLabURL, ID: d.ID, Token: d.Token}
	err = a.opts.Artifacts.DownloadArtifacts(ctx, jc, tmp)
	if err = errors.Join(err, tmp.Close()); err != nil {
		return fmt.Errorf("download artifacts of %s (job %d): %w", d.Name, d.ID, err)
	}
	n, err := extractZip(tmp.Name(), a.cfg.ProjectDir)
	if err != nil {
		return fmt.Errorf("extract artifacts of %s (job %d): %w", d.Name, d.ID, err)
	}
	fmt.Fprintf(a.log, "Downloaded artifacts of %s (job %d): %d files\n", d.Name, d.ID, n)
	return nil
}
