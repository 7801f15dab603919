package executor

import (
	"fmt"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/jobspec"
)

// projectDir is CI_PROJECT_DIR: /builds/<namespace>/<project>. A path that would leave
// /builds (it comes from the coordinator, but a local pipeline may be sloppy) falls back
// to one named after the project ID.
func projectDir(job *jobspec.Job) string {
	p := job.JobInfo.ProjectFullPath
	if p == "" {
		p = job.Variables.Get("CI_PROJECT_PATH")
	}
	clean := path.Clean("/" + p)
	if p == "" || clean == "/" || clean != "/"+p {
		clean = fmt.Sprintf("/project-%d", job.JobInfo.ProjectID)
	}
	return jobpod.BuildsDir + clean
}

// runnerVariables are the predefined variables the runner adds to GitLab's. CI_JOB_STATUS
// is the agent's to set (only after_script sees it).
func (pc *PodConfig) runnerVariables(job *jobspec.Job) jobspec.Variables {
	vars := jobspec.Variables{
		{Key: "CI_BUILDS_DIR", Value: jobpod.BuildsDir},
		{Key: "CI_PROJECT_DIR", Value: projectDir(job)},
		{Key: "CI_SERVER", Value: "yes"},
		{Key: "CI_DISPOSABLE_ENVIRONMENT", Value: "true"},
		{Key: "CI_RUNNER_VERSION", Value: pc.Runner.Version},
		{Key: "CI_RUNNER_REVISION", Value: pc.Runner.Revision},
	}
	for i := range vars {
		vars[i].Public = true
	}
	return vars
}

// publicVariables are the variables that may appear in a pod spec: public, not masked,
// not file variables (their value is file content, often a key).
func publicVariables(vars jobspec.Variables) jobspec.Variables {
	return slices.DeleteFunc(slices.Clone(vars), func(v jobspec.Variable) bool { return v.Secret() || v.File })
}

// imageVariables expand image names. GitLab Runner expands them with every job variable, and
// `image: $REGISTRY/app` with a project variable (never public) is common, so only masked
// and file variables are left out: a masked value must never reach a pod spec.
func imageVariables(vars jobspec.Variables) jobspec.Variables {
	return slices.DeleteFunc(slices.Clone(vars), func(v jobspec.Variable) bool { return v.Masked || v.File })
}

// envName is what Kubernetes accepts as an environment variable name and a Secret key suffix.
var envName = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)

// secretEnvKey is the key of a secret variable's value in the job's Secret.
func secretEnvKey(name string) string { return "var." + name }

// containerEnv turns variables into a container's environment: public ones by value, secret
// ones (when secretName is set) by reference to the job's Secret, file variables not at
// all. A later variable with the same key wins, as in GitLab, and appears once.
func containerEnv(vars jobspec.Variables, secretName string) []corev1.EnvVar {
	last := map[string]int{}
	for i, v := range vars {
		last[v.Key] = i
	}
	var env []corev1.EnvVar
	for i, v := range vars {
		if last[v.Key] != i || v.File || !envName.MatchString(v.Key) {
			continue
		}
		switch {
		case !v.Secret():
			env = append(env, corev1.EnvVar{Name: v.Key, Value: escapeEnv(v.Value)})
		case secretName != "":
			env = append(env, corev1.EnvVar{Name: v.Key, ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: secretName},
					Key:                  secretEnvKey(v.Key),
				},
			}})
		}
	}
	return env
}

// escapeEnv stops the kubelet from expanding $(NAME) references inside a value.
func escapeEnv(s string) string { return strings.ReplaceAll(s, "$(", "$$(") }

// expandImage expands an image name (image: or services:) as GitLab Runner does: with the
// job's variables, a variable's own value expanded too (APP_IMAGE: $REGISTRY/app), masked and
// file variables left out. A name that names a variable the job does not have, or expands to
// nothing, is the job's error, named at once: falling back to another image would run
// something the user never wrote.
func expandImage(field, name string, vars jobspec.Variables) (string, error) {
	vs := imageVariables(vars)
	var missing []string
	var expand func(s string, depth int) string
	expand = func(s string, depth int) string {
		return os.Expand(s, func(key string) string {
			v, ok := lookupVariable(vs, key)
			switch {
			case !ok:
				if !slices.Contains(missing, key) {
					missing = append(missing, key)
				}
				return ""
			case v.Raw || depth > 8: // a cycle stops here, as in the agent
				return v.Value
			}
			return expand(v.Value, depth+1)
		})
	}
	out := strings.TrimSpace(expand(name, 0))
	switch {
	case len(missing) > 0:
		return "", fmt.Errorf("%w: %s %q: $%s is not set for this job (masked and file variables never reach a pod spec)",
			ErrInvalidJob, field, name, strings.Join(missing, ", $"))
	case out == "":
		return "", fmt.Errorf("%w: %s %q expands to nothing", ErrInvalidJob, field, name)
	case strings.Contains(out, "$"):
		return "", fmt.Errorf("%w: %s %q expands to %q, which still holds a $", ErrInvalidJob, field, name, out)
	}
	return out, nil
}

// lookupVariable is the last variable named key, as GitLab's precedence has it.
func lookupVariable(vs jobspec.Variables, key string) (jobspec.Variable, bool) {
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].Key == key {
			return vs[i], true
		}
	}
	return jobspec.Variable{}, false
}
