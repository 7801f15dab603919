package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"

	"github.com/kuberunner/kuberunner/jobspec"
)

// noCacheStore says why a job's cache: does nothing, instead of silence.
const noCacheStore = "cache: is set but this runner has no cache store (kubernetes.cache_claim or cache_url): the cache is neither restored nor saved"

// ErrCacheMiss is what a Store returns for a key it does not have.
var ErrCacheMiss = errors.New("cache miss")

// Store keeps cache archives (zip) by key. Implementations: DirStore (a folder, on a
// PersistentVolumeClaim in production); S3 and others can follow behind this interface.
type Store interface {
	// Get opens the archive stored under key, or returns ErrCacheMiss.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Put stores the archive read from r under key; a reader of the old archive never
	// sees a half-written one.
	Put(ctx context.Context, key string, r io.Reader) error
}

// DirStore is a Store in a folder: one <escaped key>.zip file per key.
type DirStore struct{ Dir string }

func (s DirStore) path(key string) string {
	return filepath.Join(s.Dir, url.PathEscape(key)+".zip")
}

func (s DirStore) Get(_ context.Context, key string) (io.ReadCloser, error) {
	f, err := os.Open(s.path(key))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrCacheMiss
	}
	return f, err
}

func (s DirStore) Put(_ context.Context, key string, r io.Reader) error {
	if err := os.MkdirAll(s.Dir, 0o777); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.Dir, ".put-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, r)
	// CreateTemp makes the file 0600, but the job image's user writes the archive and
	// prepare (the helper image's user) reads it in a later pod. Replacing it needs only
	// write access to the folder, so readable by all is enough.
	err = errors.Join(err, tmp.Chmod(0o644))
	if err = errors.Join(err, tmp.Close()); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.path(key))
}

// cacheKey scopes a cache key to the project, as gitlab-runner does, so one project
// cannot read another's cache.
func (a *agent) cacheKey(vars jobspec.Variables, key string) string {
	key = vars.Expand(key)
	if key == "" {
		key = "default"
	}
	return fmt.Sprintf("project-%d/%s", a.job.JobInfo.ProjectID, key)
}

// restoreCaches extracts, for each cache that pulls, the first key the store has:
// its key, its fallback_keys, then CACHE_FALLBACK_KEY. Problems are warnings: a job runs
// without its cache.
func (a *agent) restoreCaches(ctx context.Context, vars jobspec.Variables) {
	if len(a.job.Cache) == 0 {
		return
	}
	if a.cache == nil {
		a.warnf("%s", noCacheStore)
		return
	}
	_ = a.section("restore_cache", "Restoring cache", func() error {
		for _, c := range a.job.Cache {
			if c.Policy == jobspec.CachePush {
				fmt.Fprintf(a.log, "Not restoring cache %q: its policy is push\n", vars.Expand(c.Key))
				continue
			}
			keys := append([]string{c.Key}, c.FallbackKeys...)
			if fb := vars.Get("CACHE_FALLBACK_KEY"); fb != "" {
				keys = append(keys, fb)
			}
			a.restoreCache(ctx, vars, keys)
		}
		return nil
	})
}

func (a *agent) restoreCache(ctx context.Context, vars jobspec.Variables, keys []string) {
	for _, k := range keys {
		key := a.cacheKey(vars, k)
		rc, err := a.cache.Get(ctx, key)
		if errors.Is(err, ErrCacheMiss) {
			continue
		}
		if err != nil {
			a.warnf("cache %s: %v", key, err)
			return
		}
		n, err := a.extractReader(rc, a.cfg.ProjectDir)
		if err != nil {
			a.warnf("cache %s: %v", key, err)
			return
		}
		fmt.Fprintf(a.log, "Restored cache %q (%d files)\n", vars.Expand(k), n)
		return
	}
	fmt.Fprintf(a.log, "No cache found for %q\n", vars.Expand(keys[0]))
}

// extractReader spools an archive to a temporary file (zip needs random access) and
// extracts it into dir.
func (a *agent) extractReader(rc io.ReadCloser, dir string) (int, error) {
	defer rc.Close()
	tmp, err := os.CreateTemp("", "kr-extract-*.zip")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, rc)
	if err = errors.Join(err, tmp.Close()); err != nil {
		return 0, err
	}
	return extractZip(tmp.Name(), dir)
}

// saveCaches archives and stores each cache that pushes and whose `when` matches status,
// and says why it saves none of the others: the log tells whether each cache was saved.
func (a *agent) saveCaches(ctx context.Context, vars jobspec.Variables, status string) error {
	if len(a.job.Cache) == 0 {
		return nil
	}
	if a.cache == nil {
		a.warnf("%s", noCacheStore)
		return nil
	}
	return a.section("save_cache", "Saving cache", func() error {
		var errs []error
		for _, c := range a.job.Cache {
			switch {
			case c.Policy == jobspec.CachePull:
				fmt.Fprintf(a.log, "Not saving cache %q: its policy is pull\n", vars.Expand(c.Key))
				continue
			case !whenMatches(c.When, status):
				fmt.Fprintf(a.log, "Not saving cache %q: it is saved when %s and the job status is %s\n",
					vars.Expand(c.Key), cmp.Or(c.When, jobspec.WhenOnSuccess), status)
				continue
			}
			errs = append(errs, a.saveCache(ctx, vars, c))
		}
		return errors.Join(errs...)
	})
}

func (a *agent) saveCache(ctx context.Context, vars jobspec.Variables, c jobspec.Cache) error {
	key := a.cacheKey(vars, c.Key)
	set := fileSet{paths: expandAll(vars, c.Paths), untracked: c.Untracked}
	files, err := set.collect(ctx, a.cfg.ProjectDir)
	if err != nil {
		return fmt.Errorf("cache %s: %w", key, err)
	}
	if len(files) == 0 {
		a.warnf("cache %q: no files to save", vars.Expand(c.Key))
		return nil
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeZip(pw, a.cfg.ProjectDir, files)) }()
	err = a.cache.Put(ctx, key, pr)
	pr.CloseWithError(errors.New("cache save finished"))
	if err != nil {
		return fmt.Errorf("save cache %s: %w", key, err)
	}
	fmt.Fprintf(a.log, "Saved cache %q (%d files)\n", vars.Expand(c.Key), len(files))
	return nil
}

// whenMatches applies an artifact's or cache's `when` to the job status.
func whenMatches(when jobspec.When, status string) bool {
	switch when {
	case jobspec.WhenAlways:
		return true
	case jobspec.WhenOnFailure:
		return status != statusSuccess
	default:
		return status == statusSuccess
	}
}

func expandAll(vars jobspec.Variables, in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = vars.Expand(s)
	}
	return out
}
