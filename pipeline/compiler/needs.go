package compiler

import (
	"fmt"
	"slices"
	"strings"
)

// maxNeeds is GitLab's default limit on needs per job.
const maxNeeds = 50

// needSpec is one entry of needs: as written.
type needSpec struct {
	job       string
	artifacts bool
	optional  bool
	matrix    *parallelSpec // needs:parallel:matrix: only these instances
	pipeline  string        // needs:pipeline with job: a job of the parent pipeline
	node      *node
}

func (c *compilation) parseNeeds(n *node, job string) []needSpec {
	if !n.isSeq() {
		c.errs.add(n, job, "needs must be an array, not %s", n.describe())
		return nil
	}
	items := flatten(n)
	if len(items) > maxNeeds {
		c.errs.add(n, job, "needs: one job can need at most %d others, not %d", maxNeeds, len(items))
	}
	out := []needSpec{}
	for _, it := range items {
		ns := needSpec{artifacts: true, node: it}
		switch {
		case it.isText():
			ns.job = it.value
		case it.isMap():
			if it.has("project") {
				c.errs.add(it, job, "needs:project is not supported locally: it takes artifacts from another project on a GitLab server")
				continue
			}
			if it.has("pipeline") {
				if ns, ok := c.parentNeed(it, job); ok {
					out = append(out, ns)
				}
				continue
			}
			c.checkKeys(it, job, "needs", needKeywords)
			j := it.get("job")
			if j == nil {
				c.errs.add(it, job, "needs: an entry needs job:")
				continue
			}
			ns.job, _ = c.text(j, job, "needs:job")
			if a := it.get("artifacts"); a != nil {
				ns.artifacts = c.boolean(a, job, "needs:artifacts")
			}
			if o := it.get("optional"); o != nil {
				ns.optional = c.boolean(o, job, "needs:optional")
			}
			if p := it.get("parallel"); p != nil {
				if !p.isMap() || p.get("matrix") == nil {
					c.errs.add(p, job, "needs:parallel must be a hash with matrix:")
					continue
				}
				ns.matrix = c.matrix(p.get("matrix"), job)
			}
		default:
			c.errs.add(it, job, "needs entries must be job names or hashes, not %s", it.describe())
			continue
		}
		out = append(out, ns)
	}
	return out
}

// jobIndex knows every job instance of the configuration, before rules.
type jobIndex struct {
	stages    []string
	stageOf   map[string]int      // instance name -> stage index
	instances map[string][]string // job name as written -> its instance names
}

func newJobIndex(insts []*instance, stages []string) *jobIndex {
	ix := &jobIndex{stages: stages, stageOf: map[string]int{}, instances: map[string][]string{}}
	for _, in := range insts {
		ix.stageOf[in.job.Name] = slices.Index(stages, in.job.Stage)
		base := in.def.tmpl.Name
		ix.instances[base] = append(ix.instances[base], in.job.Name)
	}
	return ix
}

// namesOf returns the instances a job name means: all copies of a parallel job, or the
// one job (or copy) of that name.
func (ix *jobIndex) namesOf(name string) ([]string, bool) {
	if names, ok := ix.instances[name]; ok {
		return names, true
	}
	if _, ok := ix.stageOf[name]; ok {
		return []string{name}, true
	}
	return nil, false
}

// resolve returns the instance names a need names: a parallel job's instances, or only
// the matrix ones it selects.
//
// own is the matrix of the instance that needs: $[[ matrix.X ]] in the need's matrix
// stands for its value of X.
func (ix *jobIndex) resolve(ns needSpec, own *ParallelInfo) ([]string, error) {
	if ns.matrix != nil {
		m, err := ns.matrix.withOwnMatrix(own)
		if err != nil {
			return nil, err
		}
		ns.matrix = m
	}
	all, ok := ix.instances[ns.job]
	if !ok {
		if _, isInstance := ix.stageOf[ns.job]; isInstance && ns.matrix == nil {
			return []string{ns.job}, nil // one copy of a parallel job, by its full name
		}
		return nil, fmt.Errorf("needs job %q, which is not defined", ns.job)
	}
	if ns.matrix == nil {
		return all, nil
	}
	var out []string
	for _, name := range ns.matrix.instanceNames(ns.job) {
		if !slices.Contains(all, name) {
			return nil, fmt.Errorf("needs %q, which parallel:matrix does not generate", name)
		}
		out = append(out, name)
	}
	return out, nil
}

// checkNeeds checks needs and dependencies the way GitLab does when it validates the
// file: every named job exists, a need is in the same or an earlier stage, a dependency
// in an earlier one (and among the needs when there are needs), and needs within a
// stage have no cycle.
func (c *compilation) checkNeeds(insts []*instance, ix *jobIndex) {
	graph := map[string][]string{}
	for _, in := range insts {
		d, name := in.def, in.job.Name
		own := ix.stageOf[name]
		var needed []string
		specs := slices.Clone(d.needs)
		for _, r := range d.rules {
			specs = append(specs, r.needs...)
		}
		for _, ns := range specs {
			if ns.pipeline != "" {
				c.checkParentNeed(ns, name)
				continue
			}
			names, err := ix.resolve(ns, in.job.Parallel)
			if err != nil {
				if !ns.optional || ns.matrix != nil {
					c.errs.add(ns.node, name, "%v", err)
				}
				continue // an optional need on an undefined job is ignored, as on GitLab
			}
			for _, target := range names {
				if ix.stageOf[target] > own {
					c.errs.add(ns.node, name, "needs %q, which is in a later stage (%s)", target, ix.stages[ix.stageOf[target]])
					continue
				}
				if ix.stageOf[target] == own {
					graph[name] = append(graph[name], target)
				}
				needed = append(needed, target)
			}
		}
		c.checkDependencies(in, ix, needed)
	}
	c.checkCycles(insts, graph)
}

func (c *compilation) checkDependencies(in *instance, ix *jobIndex, needed []string) {
	deps := in.job.Dependencies
	if deps == nil {
		return
	}
	dn := in.def.node.get("dependencies")
	for _, dep := range deps {
		names, ok := ix.namesOf(dep)
		if !ok {
			c.errs.add(dn, in.job.Name, "dependencies: job %q is not defined", dep)
			continue
		}
		for _, target := range names {
			if ix.stageOf[target] >= ix.stageOf[in.job.Name] && !slices.Contains(needed, target) {
				c.errs.add(dn, in.job.Name, "dependencies: %q is not in an earlier stage", target)
			}
			// `needs: []` starts the job at once and leaves dependencies free, as in
			// GitLab, whose check reads the needed jobs and finds none.
			if len(in.def.needs) > 0 && !slices.Contains(needed, target) {
				c.errs.add(dn, in.job.Name, "dependencies: %q must also be listed in needs", target)
			}
		}
	}
}

// checkCycles reports a cycle of needs among jobs of one stage.
func (c *compilation) checkCycles(insts []*instance, graph map[string][]string) {
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	byName := map[string]*instance{}
	for _, in := range insts {
		byName[in.job.Name] = in
	}
	var path []string
	var visit func(string) bool
	visit = func(name string) bool {
		switch state[name] {
		case visiting:
			start := slices.Index(path, name)
			cycle := append(slices.Clone(path[start:]), name)
			in := byName[cycle[0]]
			c.errs.add(in.def.node.get("needs"), cycle[0], "needs: circular dependency: %s", strings.Join(cycle, " -> "))
			return false
		case done:
			return true
		}
		state[name] = visiting
		path = append(path, name)
		for _, next := range graph[name] {
			if !visit(next) {
				return false
			}
		}
		path = path[:len(path)-1]
		state[name] = done
		return true
	}
	for _, in := range insts {
		if state[in.job.Name] == unvisited {
			path = path[:0]
			visit(in.job.Name)
		}
	}
}
