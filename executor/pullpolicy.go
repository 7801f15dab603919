package executor

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/jobspec"
)

// pullPolicy picks the image's pull policy: the first one the job asks for if the runner
// allows it, else the runner's default. Kubernetes takes one policy per container, so a
// job's fallback list (GitLab allows several) is reduced to its first entry, as in
// gitlab-runner's Kubernetes executor. The runner's own policies were checked with its
// configuration; the job's are checked here, against the same list.
func (pc *PodConfig) pullPolicy(image string, requested []string) (corev1.PullPolicy, error) {
	if len(requested) == 0 {
		return config.KubePullPolicy(pc.PullPolicy), nil
	}
	want := requested[0]
	if !slices.Contains(jobspec.PullPolicies, want) {
		return "", fmt.Errorf("%w: image %s: pull_policy %q is not one of %s", ErrInvalidJob, image, want, strings.Join(jobspec.PullPolicies, ", "))
	}
	allowed := pc.AllowedPullPolicies
	if len(allowed) == 0 && pc.PullPolicy != "" {
		allowed = []string{pc.PullPolicy}
	}
	if len(allowed) > 0 && !slices.Contains(allowed, want) {
		return "", fmt.Errorf("%w: image %s: pull_policy %q is not allowed by this runner (allowed: %v)", ErrInvalidJob, image, want, allowed)
	}
	return config.KubePullPolicy(want), nil
}
