package pipeline

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/pipeline/compiler"
)

// dependencies are the jobs whose artifacts j downloads, as GitLab picks them: the
// dependencies keyword, else the needs that ask for artifacts, else every job of the
// earlier stages. Jobs that never ran have no artifacts and are left out. The variables
// of their dotenv reports come with them, as GitLab hands them on. A job of the parent
// pipeline (needs:pipeline:job) must have succeeded: missing says why not, and the job
// cannot start.
func (e *Engine) dependencies(j *compiler.Job) (deps []jobspec.Dependency, dotenv []compiler.Var, missing string) {
	var names []string
	switch {
	case j.Dependencies != nil:
		names = j.Dependencies
	case j.Needs != nil:
		for _, n := range j.Needs {
			switch {
			case !n.Artifacts:
			case n.Pipeline != "":
				a, why := e.parentJob(j, n)
				if why != "" {
					return nil, nil, why
				}
				deps = append(deps, jobspec.Dependency{ID: a.id, Name: n.Job})
				dotenv = append(dotenv, a.dotenv...)
			default:
				names = append(names, n.Job)
			}
		}
	default:
		stage := slices.Index(e.opts.Pipeline.Stages, j.Stage)
		for _, other := range e.opts.Pipeline.Jobs {
			if slices.Index(e.opts.Pipeline.Stages, other.Stage) < stage {
				names = append(names, other.Name)
			}
		}
	}
	for _, n := range names {
		if a := e.latest[n]; a != nil {
			deps = append(deps, jobspec.Dependency{ID: a.id, Name: n})
			dotenv = append(dotenv, a.dotenv...)
		}
	}
	return deps, dotenv, ""
}

// collect keeps the attempt's artifacts under readable names and reads its dotenv report.
// A report GitLab would refuse fails the job, as the refused upload fails it on GitLab.
func (e *Engine) collect(a *attempt, rec coordinator.JobRecord, o Outcome) Outcome {
	if e.opts.JobsDir != "" {
		paths, err := keepArtifacts(jobDir(e.opts.JobsDir, a.name), rec.Artifacts)
		for _, p := range paths {
			e.out.State(e.label(a.name), "artifacts stored at "+displayPath(p), "")
		}
		if err != nil {
			e.out.State(e.label(a.name), "artifacts not kept under readable names: "+err.Error(), "")
		}
	}
	for _, art := range rec.Artifacts {
		if art.Type == "archive" {
			a.archive = art.Path
		}
	}
	vars, err := readDotenv(rec.Artifacts)
	if err != nil {
		e.out.State(e.label(a.name), "rejected "+err.Error(), "")
		if o.Status == StatusSuccess {
			o = Outcome{Status: StatusFailed, Reason: jobspec.ScriptFailure}
		}
		return o
	}
	a.dotenv = vars
	return o
}

// formatExtensions are the file name extensions of GitLab's artifact formats.
var formatExtensions = map[string]string{"zip": ".zip", "gzip": ".gz"}

// storedName is the readable name an upload is kept under: artifacts.zip for the archive,
// the report type for reports (junit.gz, dotenv.gz).
func storedName(a coordinator.StoredArtifact) string {
	if a.Type == "archive" {
		return "artifacts" + formatExtensions[a.Format]
	}
	return a.Type + formatExtensions[a.Format]
}

// jobDir is where a job's artifacts are kept under readable names: <jobsDir>/<job slug>,
// the slug being CI_JOB_NAME_SLUG ("test 1/2" is test-1-2).
func jobDir(jobsDir, name string) string { return filepath.Join(jobsDir, compiler.Slug(name)) }

// keepArtifacts links (or copies) the job's uploads into dir under readable names,
// replacing an earlier attempt's, and returns their paths. The coordinator keeps serving
// its own files, which later jobs download.
func keepArtifacts(dir string, arts []coordinator.StoredArtifact) ([]string, error) {
	if len(arts) == 0 {
		return nil, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, a := range arts {
		p := filepath.Join(dir, storedName(a))
		if err := linkOrCopy(a.Path, p); err != nil {
			return paths, fmt.Errorf("keep %s: %w", storedName(a), err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

func linkOrCopy(src, dst string) (err error) {
	if os.Link(src, dst) == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}

// displayPath is p relative to the working directory when it lies under it, which is
// what a user types next; else p.
func displayPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	rel, err := filepath.Rel(wd, p)
	if err != nil || !filepath.IsLocal(rel) {
		return p
	}
	return rel
}
