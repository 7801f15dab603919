package compiler

import "slices"

// parentNeedKeywords are the keys of a needs:pipeline:job entry.
var parentNeedKeywords = set("pipeline", "job", "artifacts")

// parentNeed reads a needs entry with pipeline: and job:, by which a job of a child
// pipeline takes the artifacts of a job of its parent pipeline (GitLab's
// needs:pipeline:job, the parent passing its CI_PIPELINE_ID as PARENT_PIPELINE_ID).
func (c *compilation) parentNeed(it *node, job string) (needSpec, bool) {
	j := it.get("job")
	if j == nil {
		// needs:pipeline alone makes a bridge mirror another project's pipeline.
		c.errs.add(it, job, "needs:pipeline without job: (a bridge following another project's pipeline) is not supported locally: it needs a GitLab server")
		return needSpec{}, false
	}
	c.checkKeys(it, job, "needs", parentNeedKeywords)
	p, ok := c.text(it.get("pipeline"), job, "needs:pipeline")
	if !ok {
		return needSpec{}, false
	}
	ns := needSpec{pipeline: p, artifacts: true, node: it}
	if ns.job, ok = c.text(j, job, "needs:pipeline:job"); !ok {
		return needSpec{}, false
	}
	if a := it.get("artifacts"); a != nil {
		ns.artifacts = c.boolean(a, job, "needs:artifacts")
	}
	return ns, true
}

// checkParentNeed checks that the job a needs:pipeline:job entry names is in the parent
// pipeline, the only other pipeline of a local run.
func (c *compilation) checkParentNeed(ns needSpec, job string) {
	switch {
	case c.parent == nil:
		c.errs.add(ns.node, job, "needs:pipeline:job %q: only a child pipeline can take a job's artifacts from its parent pipeline, and this pipeline is not one", ns.job)
	case !slices.Contains(c.parent, ns.job):
		c.errs.add(ns.node, job, "needs:pipeline:job %q is not a job of the parent pipeline", ns.job)
	}
}
