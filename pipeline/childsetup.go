package pipeline

import (
	"archive/zip"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/pipeline/compiler"
)

// parentInfo is what a child pipeline knows of its parent: its ID and its jobs that
// had ended when the child was created. GitLab does not wait for a parent's job either:
// a child job needing one that had not ended cannot start.
type parentInfo struct {
	id   int64
	jobs map[string]attempt // the latest attempt of each ended job
}

// asParent is e as the parent of a child pipeline created now; Run's goroutine only.
func (e *Engine) asParent() *parentInfo {
	p := &parentInfo{id: e.opts.Env.PipelineID, jobs: map[string]attempt{}}
	for name, a := range e.latest {
		if a.done {
			p.jobs[name] = *a
		}
	}
	return p
}

// parentJob is the attempt of the parent's job that need n of j names, or why j
// cannot have its artifacts.
func (e *Engine) parentJob(j *compiler.Job, n compiler.Need) (attempt, string) {
	if e.parent == nil {
		return attempt{}, fmt.Sprintf("needs:pipeline:job %s: this pipeline has no parent", n.Job)
	}
	id := jobVariables(j, e.opts.Env, 0, "", 0, nil).Expanded().Expand(n.Pipeline)
	if id != strconv.FormatInt(e.parent.id, 10) {
		return attempt{}, fmt.Sprintf("needs:pipeline %q is %q, not the parent pipeline #%d (pass it as a trigger variable: PARENT_PIPELINE_ID: $CI_PIPELINE_ID)", n.Pipeline, id, e.parent.id)
	}
	a, ok := e.parent.jobs[n.Job]
	switch {
	case !ok:
		return attempt{}, fmt.Sprintf("job %s of the parent pipeline had not ended when this pipeline was created, so its artifacts could not be retrieved", n.Job)
	case a.status != coordinator.StatusSuccess:
		return attempt{}, fmt.Sprintf("job %s of the parent pipeline did not succeed (%s), so its artifacts could not be retrieved", n.Job, a.status)
	}
	return a, ""
}

// childPipeline is the child pipeline of bridge j: compiled already, or, for a generated
// one, compiled now from the artifact its job left.
func (e *Engine) childPipeline(j *compiler.Job) (*compiler.Pipeline, error) {
	t := j.Trigger
	if t.Child != nil {
		return t.Child, nil
	}
	g := t.Generated
	if g == nil {
		return nil, fmt.Errorf("the child pipeline was not compiled")
	}
	a := e.latest[g.Job]
	if a == nil || !a.done {
		return nil, fmt.Errorf("job %s, which generates the child pipeline, has not run", g.Job)
	}
	if a.archive == "" {
		return nil, fmt.Errorf("job %s, which generates the child pipeline, uploaded no artifacts (artifacts:paths must hold %s)", g.Job, g.Artifact)
	}
	data, err := readArtifact(a.archive, g.Artifact)
	if err != nil {
		return nil, fmt.Errorf("job %s's artifacts: %w", g.Job, err)
	}
	return t.CompileGenerated(data)
}

// readArtifact reads one file from an artifacts archive (zip).
func readArtifact(archive, name string) ([]byte, error) {
	z, err := zip.OpenReader(archive)
	if err != nil {
		return nil, fmt.Errorf("read the archive: %w", err)
	}
	defer z.Close()
	f, err := z.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%s is not among them", name)
	}
	defer f.Close()
	return io.ReadAll(f)
}

// splitPlay parts --job names into this pipeline's jobs and its child pipelines' jobs,
// named bridge/job (as the output shows them), by bridge. A name that is neither stays
// this pipeline's, for the scheduler to refuse.
func splitPlay(p *compiler.Pipeline, play []string) (own []string, nested map[string][]string) {
	nested = map[string][]string{}
	for _, name := range play {
		if slices.ContainsFunc(p.Jobs, func(j *compiler.Job) bool { return j.Name == name }) {
			own = append(own, name)
			continue
		}
		i := slices.IndexFunc(p.Jobs, func(j *compiler.Job) bool {
			return j.Trigger != nil && strings.HasPrefix(name, j.Name+"/")
		})
		if i < 0 {
			own = append(own, name)
			continue
		}
		bridge := p.Jobs[i].Name
		nested[bridge] = append(nested[bridge], strings.TrimPrefix(name, bridge+"/"))
	}
	return own, nested
}

// checkPlay refuses --job names that name no job, before anything runs; the jobs of a
// generated child pipeline are known only once it is generated.
func checkPlay(p *compiler.Pipeline, play []string) error {
	own, nested := splitPlay(p, play)
	if _, err := NewScheduler(p, own); err != nil {
		return err
	}
	for bridge, names := range nested {
		child := p.Jobs[slices.IndexFunc(p.Jobs, func(j *compiler.Job) bool { return j.Name == bridge })].Trigger.Child
		if child == nil {
			continue
		}
		if err := checkPlay(child, names); err != nil {
			return fmt.Errorf("child pipeline of %s: %w", bridge, err)
		}
	}
	return nil
}
