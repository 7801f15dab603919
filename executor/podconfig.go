package executor

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	kjson "sigs.k8s.io/json"

	"github.com/kuberunner/kuberunner/config"
)

// ErrInvalidJob marks BuildPod errors caused by the job (a resource override above the
// runner's maximum, a refused pull policy): the user can fix them in .gitlab-ci.yml.
// Any other BuildPod error is the runner's configuration.
var ErrInvalidJob = errors.New("invalid job")

// errForbiddenByConfig marks a job asking for what the runner's configuration forbids.
var errForbiddenByConfig = errors.New("refused by the runner's configuration")

// PodConfig is a runner's Kubernetes configuration compiled into Kubernetes types, once,
// when the runner starts; BuildPod only reads it.
type PodConfig struct {
	Namespace   string
	HelperImage string
	// DefaultImage runs jobs that name no image.
	DefaultImage string

	// Runner identifies the runner in labels and CI_RUNNER_* variables.
	Runner RunnerInfo
	// Manager is the jobpod.LabelManager value of the replica creating the pods; empty: none.
	Manager string

	ServiceAccount      string
	AutomountToken      bool
	NodeSelector        map[string]string
	Tolerations         []corev1.Toleration
	Affinity            *corev1.Affinity
	Labels              map[string]string
	Annotations         map[string]string
	ImagePullSecrets    []string
	PullPolicy          string   // GitLab spelling; empty: Kubernetes' default
	AllowedPullPolicies []string // GitLab spelling
	Build, Service      ResourceConfig
	Helper              ResourceConfig
	// Security is the runner's profile (SecurityProfile), Hardened the one a job may ask for.
	Security           Security
	Hardened           Security
	SecurityProfile    string
	BuildKit           BuildKitConfig
	Deploys            []config.Deploy
	InsecureRegistries []string
	DeadlineMargin     time.Duration
	GracefulCancel     time.Duration
	ServiceWait        time.Duration
	CacheClaim         string
	CacheURL           string
	Patches            []SpecPatch
}

// RunnerInfo is the runner as jobs see it.
type RunnerInfo struct {
	Name      string
	ID        int64
	GitLabURL string
	Version   string
	Revision  string
}

// ResourceConfig sizes one kind of container. Max holds the highest value a job may ask
// for through KUBERNETES_* variables; a resource missing from Max cannot be overridden.
type ResourceConfig struct {
	Default corev1.ResourceRequirements
	Max     corev1.ResourceRequirements
}

// NewPodConfig compiles a runner's configuration (defaults applied to a copy) and checks
// everything Kubernetes would otherwise refuse only when the first job's pod is created.
func NewPodConfig(k config.Kubernetes, runner RunnerInfo) (PodConfig, error) {
	k.SetDefaults()
	if err := k.Validate(); err != nil {
		return PodConfig{}, err
	}
	pc := PodConfig{
		Namespace:           k.Namespace,
		HelperImage:         k.HelperImage,
		DefaultImage:        k.Image,
		Runner:              runner,
		ServiceAccount:      k.ServiceAccount,
		AutomountToken:      k.AutomountServiceAccountToken,
		NodeSelector:        k.NodeSelector,
		ImagePullSecrets:    k.ImagePullSecrets,
		PullPolicy:          k.PullPolicy,
		AllowedPullPolicies: k.AllowedPullPolicies,
		DeadlineMargin:      k.DeadlineMargin.Std(),
		GracefulCancel:      k.GracefulCancelTimeout.Std(),
		ServiceWait:         k.ServiceWaitTimeout.Std(),
		CacheClaim:          k.CacheClaim,
		CacheURL:            k.CacheURL,
		Labels:              k.PodLabels,
		Annotations:         k.PodAnnotations,
	}
	var errs []error
	for key := range k.PodLabels {
		if msgs := validation.IsQualifiedName(key); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("pod_labels: %q: %v", key, msgs))
		}
	}
	for i, t := range k.Tolerations {
		pc.Tolerations = append(pc.Tolerations, corev1.Toleration{
			Key: t.Key, Operator: corev1.TolerationOperator(t.Operator), Value: t.Value,
			Effect: corev1.TaintEffect(t.Effect), TolerationSeconds: t.TolerationSeconds,
		})
		if t.Operator == "Exists" && t.Value != "" {
			errs = append(errs, fmt.Errorf("tolerations[%d]: operator Exists takes no value", i))
		}
	}
	if len(k.Affinity) > 0 {
		pc.Affinity = new(corev1.Affinity)
		if err := strictRemarshal(k.Affinity, pc.Affinity); err != nil {
			errs = append(errs, fmt.Errorf("affinity: %w", err))
		}
	}
	var err error
	if pc.Build, err = compileResources(k.Build); err != nil {
		errs = append(errs, fmt.Errorf("build: %w", err))
	}
	if pc.Service, err = compileResources(k.Service); err != nil {
		errs = append(errs, fmt.Errorf("service: %w", err))
	}
	if pc.Helper, err = compileResources(k.Helper); err != nil {
		errs = append(errs, fmt.Errorf("helper: %w", err))
	}
	pc.Security, pc.Hardened = compileSecurity(k.SecurityContext)
	pc.SecurityProfile = k.SecurityContext.Profile
	pc.Deploys = k.Deploy
	pc.InsecureRegistries = k.InsecureRegistries
	pc.BuildKit = BuildKitConfig{Mode: k.BuildKit.Mode, Image: k.BuildKit.Image}
	if pc.BuildKit.Resources, err = compileResources(k.BuildKit.Resources); err != nil {
		errs = append(errs, fmt.Errorf("buildkit.resources: %w", err))
	}
	if pc.Patches, err = compilePatches(k.PodSpecPatches); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return PodConfig{}, fmt.Errorf("kubernetes configuration: %w", err)
	}
	return pc, nil
}

func compileResources(r config.Resources) (ResourceConfig, error) {
	var rc ResourceConfig
	var errs []error
	set := func(list *corev1.ResourceList, name corev1.ResourceName, key, value string) {
		if value == "" {
			return
		}
		q, err := resource.ParseQuantity(value)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a Kubernetes quantity (examples: 500m, 2, 1Gi)", key, value))
			return
		}
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[name] = q
	}
	set(&rc.Default.Requests, corev1.ResourceCPU, "cpu_request", r.CPURequest)
	set(&rc.Default.Limits, corev1.ResourceCPU, "cpu_limit", r.CPULimit)
	set(&rc.Default.Requests, corev1.ResourceMemory, "memory_request", r.MemoryRequest)
	set(&rc.Default.Limits, corev1.ResourceMemory, "memory_limit", r.MemoryLimit)
	set(&rc.Max.Requests, corev1.ResourceCPU, "cpu_request_max_allowed", r.CPURequestMaxAllowed)
	set(&rc.Max.Limits, corev1.ResourceCPU, "cpu_limit_max_allowed", r.CPULimitMaxAllowed)
	set(&rc.Max.Requests, corev1.ResourceMemory, "memory_request_max_allowed", r.MemoryRequestMaxAllowed)
	set(&rc.Max.Limits, corev1.ResourceMemory, "memory_limit_max_allowed", r.MemoryLimitMaxAllowed)
	return rc, errors.Join(errs...)
}

// strictRemarshal converts a decoded YAML tree into a Kubernetes type through JSON,
// refusing unknown fields so a misspelt key is an error rather than ignored.
func strictRemarshal(in any, out any) error {
	raw, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return strictUnmarshal(raw, out)
}

// strictUnmarshal is Kubernetes' own strict decoding: field names match case-sensitively
// (encoding/json would take "hostnetwork" for hostNetwork) and unknown fields are errors.
func strictUnmarshal(raw []byte, out any) error {
	strictErrs, err := kjson.UnmarshalStrict(raw, out)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}
