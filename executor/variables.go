package executor

import (
	"fmt"
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
