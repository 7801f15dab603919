package step

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/kuberunner/kuberunner/jobspec"
)

// tmpDir is CI_PROJECT_DIR.tmp, gitlab-runner's place for file variables and scripts:
// beside the workspace, so an artifact glob of the project never picks them up.
func (a *agent) tmpDir() string { return a.cfg.ProjectDir + ".tmp" }

// variables are the job's variables as the script sees them: file variables written to
// files (their value becomes the path) and every value expanded once, in order.
func (a *agent) variables(extra ...jobspec.Variable) (jobspec.Variables, error) {
	vars := append(slices.Clone(a.job.Variables), extra...)
	for i, v := range vars {
		if !v.File {
			continue
		}
		if err := os.MkdirAll(a.tmpDir(), 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", a.tmpDir(), err)
		}
		path := filepath.Join(a.tmpDir(), v.Key)
		if err := os.WriteFile(path, []byte(v.Value), 0o600); err != nil {
			return nil, fmt.Errorf("write file variable %s: %w", v.Key, err)
		}
		vars[i].Value, vars[i].Raw = path, true
	}
	return vars.Expanded(), nil
}

// environ is the process environment plus vars (the last value of a key wins).
func environ(vars jobspec.Variables) []string {
	env := os.Environ()
	for _, v := range vars {
		env = append(env, v.Key+"="+v.Value)
	}
	return env
}
