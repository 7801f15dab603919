package compiler

import (
	"fmt"
	"regexp"
	"strings"
)

// maxParallel is GitLab's limit on the jobs one parallel: keyword makes.
const maxParallel = 200

// parallelSpec is a decoded parallel: keyword.
type parallelSpec struct {
	total  int                 // parallel: N
	matrix []map[string]string // one entry per generated job, for parallel:matrix
	keys   [][]string          // the variable order of each matrix entry, for names
}

func (c *compilation) parallel(n *node, job string) *parallelSpec {
	if n.isMap() {
		c.checkKeys(n, job, "parallel", set("matrix"))
		m := n.get("matrix")
		if m == nil {
			c.errs.add(n, job, "parallel must be a number or a hash with matrix:")
			return nil
		}
		return c.matrix(m, job)
	}
	total, ok := c.integer(n, job, "parallel")
	if !ok {
		return nil
	}
	if total < 1 || total > maxParallel {
		c.errs.add(n, job, "parallel must be between 1 and %d, not %d", maxParallel, total)
		return nil
	}
	return &parallelSpec{total: total}
}

// matrix expands parallel:matrix: each entry is the product of its variables' values, in
// the order written; the entries follow one another.
func (c *compilation) matrix(n *node, job string) *parallelSpec {
	if !n.isSeq() || len(n.items) == 0 {
		c.errs.add(n, job, "parallel:matrix must be a non-empty array of hashes")
		return nil
	}
	spec := &parallelSpec{}
	for _, entry := range n.items {
		combos, keys, ok := c.matrixEntry(entry, job)
		if !ok {
			return nil
		}
		for _, combo := range combos {
			spec.matrix = append(spec.matrix, combo)
			spec.keys = append(spec.keys, keys)
		}
	}
	spec.total = len(spec.matrix)
	if spec.total > maxParallel {
		c.errs.add(n, job, "parallel:matrix generates %d jobs (maximum is %d)", spec.total, maxParallel)
		return nil
	}
	return spec
}

// matrixEntry expands one hash of a matrix into its combinations.
func (c *compilation) matrixEntry(entry *node, job string) ([]map[string]string, []string, bool) {
	if !entry.isMap() || len(entry.pairs) == 0 {
		c.errs.add(entry, job, "parallel:matrix entries must be non-empty hashes of variables, not %s", entry.describe())
		return nil, nil, false
	}
	combos := []map[string]string{{}}
	var keys []string
	for _, p := range entry.pairs {
		var values []string
		switch {
		case p.val.isText():
			values = []string{p.val.value}
		case p.val.isSeq() && len(p.val.items) > 0:
			values = c.stringArray(p.val, job, "parallel:matrix:"+p.key)
		default:
			c.errs.add(p.val, job, "parallel:matrix:%s must be a string or a non-empty array of strings, not %s", p.key, p.val.describe())
			return nil, nil, false
		}
		keys = append(keys, p.key)
		var next []map[string]string
		for _, combo := range combos {
			for _, v := range values {
				m := make(map[string]string, len(combo)+1)
				for k, cv := range combo {
					m[k] = cv
				}
				m[p.key] = v
				next = append(next, m)
			}
		}
		combos = next
	}
	return combos, keys, true
}

// instanceNames returns the names GitLab gives a parallel job's instances:
// "name 1/3" for parallel: N, "name: [v1, v2]" for a matrix.
func (s *parallelSpec) instanceNames(job string) []string {
	names := make([]string, s.total)
	for i := range s.total {
		if s.matrix == nil {
			names[i] = fmt.Sprintf("%s %d/%d", job, i+1, s.total)
			continue
		}
		names[i] = matrixName(job, s.keys[i], s.matrix[i])
	}
	return names
}

func matrixName(job string, keys []string, values map[string]string) string {
	vals := make([]string, len(keys))
	for i, k := range keys {
		vals[i] = values[k]
	}
	return job + ": [" + strings.Join(vals, ", ") + "]"
}

// instance is one job a jobDef becomes: the job itself, or one of its parallel copies.
type instance struct {
	def  *jobDef
	job  Job
	vars []Var // the yaml variables it runs with: inherited globals, its own, matrix
}

// expand returns the instances of d, in order.
func (d *jobDef) expand() []*instance {
	base := d.tmpl
	baseVars := mergeVars(d.globalVars, base.Variables)
	if d.parallel == nil {
		return []*instance{{def: d, job: base, vars: baseVars}}
	}
	names := d.parallel.instanceNames(base.Name)
	out := make([]*instance, len(names))
	for i, name := range names {
		j := base
		j.Name = name
		info := &ParallelInfo{Index: i + 1, Total: d.parallel.total}
		vars := baseVars
		if d.parallel.matrix != nil {
			info.Matrix = d.parallel.matrix[i]
			var mv []Var
			for _, k := range d.parallel.keys[i] {
				mv = append(mv, Var{Key: k, Value: info.Matrix[k], Expand: true})
			}
			vars = mergeVars(vars, mv)
		}
		j.Parallel = info
		out[i] = &instance{def: d, job: j, vars: vars}
	}
	return out
}

// matrixExpr is $[[ matrix.NAME ]], which needs:parallel:matrix may use for a value of
// the needing job's own matrix.
var matrixExpr = regexp.MustCompile(`\$\[\[\s*matrix\.([A-Za-z_][A-Za-z0-9_]*)\s*\]\]`)

// withOwnMatrix returns s with every $[[ matrix.NAME ]] replaced by own's value of NAME.
func (s *parallelSpec) withOwnMatrix(own *ParallelInfo) (*parallelSpec, error) {
	out := *s
	out.matrix = make([]map[string]string, len(s.matrix))
	for i, entry := range s.matrix {
		m := make(map[string]string, len(entry))
		for k, v := range entry {
			var missing string
			m[k] = matrixExpr.ReplaceAllStringFunc(v, func(expr string) string {
				name := matrixExpr.FindStringSubmatch(expr)[1]
				if own != nil {
					if val, ok := own.Matrix[name]; ok {
						return val
					}
				}
				missing = name
				return expr
			})
			if missing != "" {
				return nil, fmt.Errorf("needs:parallel:matrix uses $[[ matrix.%s ]], but this job's parallel:matrix has no %s", missing, missing)
			}
		}
		out.matrix[i] = m
	}
	return &out, nil
}
