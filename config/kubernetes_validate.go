package config

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kuberunner/kuberunner/internal/podpatch"
	"github.com/kuberunner/kuberunner/jobspec"
)

// Validate is the one check of the section, Kubernetes' types included (quantities, label
// keys, the affinity, the patches), so that every problem is found when the file is read
// and named by file, line and key; the executor then only converts. Empty values are fine:
// SetDefaults fills them. The result joins *Error values whose keys are relative to this
// section.
func (k *Kubernetes) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	pullPolicies := jobspec.PullPolicies
	if k.PullPolicy != "" && !slices.Contains(pullPolicies, k.PullPolicy) {
		bad("pull_policy", "%q is not one of %v", k.PullPolicy, pullPolicies)
	}
	for i, p := range k.AllowedPullPolicies {
		if !slices.Contains(pullPolicies, p) {
			bad(fmt.Sprintf("allowed_pull_policies[%d]", i), "%q is not one of %v", p, pullPolicies)
		}
	}
	if k.PullPolicy != "" && len(k.AllowedPullPolicies) > 0 && !slices.Contains(k.AllowedPullPolicies, k.PullPolicy) {
		bad("pull_policy", "%q is not in allowed_pull_policies", k.PullPolicy)
	}
	for i, t := range k.Tolerations {
		if t.Operator != "" && t.Operator != "Exists" && t.Operator != "Equal" {
			bad(fmt.Sprintf("tolerations[%d].operator", i), "%q is not Exists or Equal", t.Operator)
		}
	}
	if k.DeadlineMargin < 0 {
		bad("deadline_margin", "must not be negative")
	}
	if k.GracefulCancelTimeout < 0 {
		bad("graceful_cancel_timeout", "must not be negative")
	}
	if k.ServiceWaitTimeout < 0 {
		bad("service_wait_timeout", "must not be negative")
	}
	if k.CacheURL != "" {
		// Jobs would otherwise find out one by one, each with a warning and no cache.
		if u, err := url.Parse(k.CacheURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("cache_url", "%q is not an http:// or https:// URL", k.CacheURL)
		}
	}
	switch k.SecurityContext.SeccompProfile {
	case "", "RuntimeDefault", "Unconfined":
	default:
		bad("security_context.seccomp_profile", "%q is not RuntimeDefault or Unconfined", k.SecurityContext.SeccompProfile)
	}
	switch k.SecurityContext.Profile {
	case "", ProfileDefault, ProfileHardened:
	default:
		bad("security_context.profile", "%q is not %s or %s", k.SecurityContext.Profile, ProfileDefault, ProfileHardened)
	}
	switch k.BuildKit.Mode {
	case "", BuildKitAllowed, BuildKitAlways, BuildKitForbidden:
	default:
		bad("buildkit.mode", "%q is not %s, %s or %s", k.BuildKit.Mode, BuildKitAllowed, BuildKitAlways, BuildKitForbidden)
	}
	for i, d := range k.Deploy {
		key := fmt.Sprintf("deploy[%d]", i)
		if d.Environment == "" {
			bad(key+".environment", "must not be empty (use \"*\" for every environment)")
		}
		if d.Namespace == "" {
			bad(key+".namespace", "must not be empty")
		}
	}
	for i, r := range k.InsecureRegistries {
		if r == "" || strings.ContainsAny(r, "/ ") {
			bad(fmt.Sprintf("insecure_registries[%d]", i), "%q is not a registry host[:port]", r)
		}
	}
	return errors.Join(append(errs, k.validateKubernetesTypes()...)...)
}

// validateKubernetesTypes checks what Kubernetes itself would refuse only when the first
// job's pod is created: label keys, tolerations, the affinity, quantities and the patches,
// each by the conversion the executor uses.
func (k *Kubernetes) validateKubernetesTypes() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	// under places the *Error values of a nested check below key.
	under := func(key string, err error) {
		if err != nil {
			errs = append(errs, (*source)(nil).rebase(key, err)...)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(k.PodLabels)) {
		if msgs := validation.IsQualifiedName(key); len(msgs) > 0 {
			bad("pod_labels."+key, "%q is not a label key: %s", key, strings.Join(msgs, "; "))
		}
	}
	for i, t := range k.Tolerations {
		if t.Operator == "Exists" && t.Value != "" {
			bad(fmt.Sprintf("tolerations[%d].value", i), "operator Exists takes no value")
		}
	}
	if _, err := k.AffinitySpec(); err != nil {
		bad("affinity", "%v", err)
	}
	for _, r := range k.resources() {
		_, err := r.Requirements()
		under(r.key, err)
	}
	_, err := k.Patches()
	under("", err)
	return errs
}

type keyedResources struct {
	key string
	Resources
}

// resources are the Resources of the section with their keys, in file order.
func (k *Kubernetes) resources() []keyedResources {
	return []keyedResources{{"build", k.Build}, {"service", k.Service}, {"helper", k.Helper}, {"buildkit.resources", k.BuildKit.Resources}}
}

// KubePullPolicy is Kubernetes' name of a pull policy of jobspec.PullPolicies; "" for
// anything else, which leaves Kubernetes' default.
func KubePullPolicy(name string) corev1.PullPolicy {
	// In the order of jobspec.PullPolicies.
	kube := [...]corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever}
	if i := slices.Index(jobspec.PullPolicies, name); i >= 0 {
		return kube[i]
	}
	return ""
}

// AffinitySpec decodes Affinity strictly into Kubernetes' type; nil when none is set.
func (k *Kubernetes) AffinitySpec() (*corev1.Affinity, error) {
	if len(k.Affinity) == 0 {
		return nil, nil
	}
	a := new(corev1.Affinity)
	if err := podpatch.StrictRemarshal(k.Affinity, a); err != nil {
		return nil, err
	}
	return a, nil
}

// Requirements are r as Kubernetes quantities: the defaults, and the highest values a job
// may ask for (a resource missing from max cannot be overridden). The error joins an *Error
// per value that is not a quantity, keyed relative to r.
func (r Resources) Requirements() (ResourceLimits, error) {
	var rl ResourceLimits
	var errs []error
	set := func(list *corev1.ResourceList, name corev1.ResourceName, key, value string) {
		if value == "" {
			return
		}
		q, err := resource.ParseQuantity(value)
		if err != nil {
			errs = append(errs, &Error{Key: key, Msg: fmt.Sprintf("%q is not a Kubernetes quantity (examples: 500m, 2, 1Gi)", value)})
			return
		}
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[name] = q
	}
	set(&rl.Default.Requests, corev1.ResourceCPU, "cpu_request", r.CPURequest)
	set(&rl.Default.Limits, corev1.ResourceCPU, "cpu_limit", r.CPULimit)
	set(&rl.Default.Requests, corev1.ResourceMemory, "memory_request", r.MemoryRequest)
	set(&rl.Default.Limits, corev1.ResourceMemory, "memory_limit", r.MemoryLimit)
	set(&rl.Max.Requests, corev1.ResourceCPU, "cpu_request_max_allowed", r.CPURequestMaxAllowed)
	set(&rl.Max.Limits, corev1.ResourceCPU, "cpu_limit_max_allowed", r.CPULimitMaxAllowed)
	set(&rl.Max.Requests, corev1.ResourceMemory, "memory_request_max_allowed", r.MemoryRequestMaxAllowed)
	set(&rl.Max.Limits, corev1.ResourceMemory, "memory_limit_max_allowed", r.MemoryLimitMaxAllowed)
	return rl, errors.Join(errs...)
}

// ResourceLimits sizes one kind of container. Max holds the highest value a job may ask
// for through KUBERNETES_* variables; a resource missing from Max cannot be overridden.
type ResourceLimits struct {
	Default corev1.ResourceRequirements
	Max     corev1.ResourceRequirements
}

// Patches compiles PodSpecPatches, each tried on a minimal pod spec. The error joins an
// *Error per patch that is not YAML or JSON or cannot apply.
func (k *Kubernetes) Patches() ([]podpatch.Patch, error) {
	var out []podpatch.Patch
	var errs []error
	for i, p := range k.PodSpecPatches {
		key := fmt.Sprintf("pod_spec_patches[%d]", i)
		switch p.Type {
		case "", "strategic", "merge", "json":
		default:
			errs = append(errs, &Error{Key: key + ".type", Msg: fmt.Sprintf("%q is not strategic, merge or json", p.Type)})
			continue
		}
		if p.Patch == "" {
			errs = append(errs, &Error{Key: key + ".patch", Msg: "must not be empty"})
			continue
		}
		cp, err := podpatch.Compile(p.Name, p.Type, p.Patch)
		if err != nil {
			errs = append(errs, &Error{Key: key + ".patch", Msg: err.Error()})
			continue
		}
		out = append(out, cp)
	}
	return out, errors.Join(errs...)
}
