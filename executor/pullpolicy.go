package executor

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

var pullPolicies = map[string]corev1.PullPolicy{
	"always":         corev1.PullAlways,
	"if-not-present": corev1.PullIfNotPresent,
	"never":          corev1.PullNever,
}

// pullPolicy picks the image's pull policy: the first one the job asks for if the runner
// allows it, else the runner's default. Kubernetes takes one policy per container, so a
// job's fallback list (GitLab allows several) is reduced to its first entry, as in
// gitlab-runner's Kubernetes executor.
func (pc *PodConfig) pullPolicy(image string, requested []string) (corev1.PullPolicy, error) {
	if len(requested) == 0 {
		return pullPolicies[pc.PullPolicy], nil
	}
	want := requested[0]
	if _, ok := pullPolicies[want]; !ok {
		return "", fmt.Errorf("%w: image %s: pull_policy %q is not one of always, if-not-present, never", ErrInvalidJob, image, want)
	}
	allowed := pc.AllowedPullPolicies
	if len(allowed) == 0 && pc.PullPolicy != "" {
		allowed = []string{pc.PullPolicy}
	}
	if len(allowed) > 0 && !slices.Contains(allowed, want) {
		return "", fmt.Errorf("%w: image %s: pull_policy %q is not allowed by this runner (allowed: %v)", ErrInvalidJob, image, want, allowed)
	}
	return pullPolicies[want], nil
}
