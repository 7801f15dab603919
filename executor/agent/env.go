package agent

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
	vars := safeDirectory(append(slices.Clone(a.job.Variables), extra...), a.cfg.ProjectDir)
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

// safeDirectory lets git in the job image use the workspace although prepare (in the helper
// image) cloned it as another user: without it git refuses with "detected dubious ownership". Git
// honours safe.directory only from protected configuration, which includes the command
// scope that GIT_CONFIG_COUNT/KEY_n/VALUE_n set; a job that sets GIT_CONFIG_COUNT itself
// keeps its own entries, ours is added after them.
func safeDirectory(vars jobspec.Variables, dir string) jobspec.Variables {
	n := 0
	if v, ok := vars.Lookup("GIT_CONFIG_COUNT"); ok {
		if _, err := fmt.Sscan(v, &n); err != nil || n < 0 {
			return vars // not ours to repair; git will say what is wrong with it
		}
	}
	return append(vars,
		jobspec.Variable{Key: fmt.Sprintf("GIT_CONFIG_KEY_%d", n), Value: "safe.directory", Public: true, Raw: true},
		jobspec.Variable{Key: fmt.Sprintf("GIT_CONFIG_VALUE_%d", n), Value: dir, Public: true, Raw: true},
		jobspec.Variable{Key: "GIT_CONFIG_COUNT", Value: fmt.Sprint(n + 1), Public: true, Raw: true},
	)
}
