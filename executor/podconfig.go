package executor

import (
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/internal/podpatch"
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
	Patches            []podpatch.Patch
}

// RunnerInfo is the runner as jobs see it.
type RunnerInfo struct {
	Name      string
	ID        int64
	GitLabURL string
	Version   string
	Revision  string
}

// ResourceConfig sizes one kind of container (config.ResourceLimits, with the job's overrides
// as methods).
type ResourceConfig config.ResourceLimits

// NewPodConfig compiles a runner's configuration (defaults applied to a copy) into
// Kubernetes types. The checks, everything Kubernetes would otherwise refuse only when the
// first job's pod is created included, are config.Kubernetes.Validate's: a file is refused
// when it is read, naming file, line and key; a section built in code is refused here.
func NewPodConfig(k config.Kubernetes, runner RunnerInfo) (PodConfig, error) {
	k.SetDefaults()
	if err := k.Validate(); err != nil {
		return PodConfig{}, fmt.Errorf("kubernetes configuration: %w", err)
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
	// Validate above refused whatever does not convert, so the conversions cannot fail.
	for _, t := range k.Tolerations {
		pc.Tolerations = append(pc.Tolerations, corev1.Toleration{
			Key: t.Key, Operator: corev1.TolerationOperator(t.Operator), Value: t.Value,
			Effect: corev1.TaintEffect(t.Effect), TolerationSeconds: t.TolerationSeconds,
		})
	}
	pc.Affinity, _ = k.AffinitySpec()
	pc.Build = compileResources(k.Build)
	pc.Service = compileResources(k.Service)
	pc.Helper = compileResources(k.Helper)
	pc.Security, pc.Hardened = compileSecurity(k.SecurityContext)
	pc.SecurityProfile = k.SecurityContext.Profile
	pc.Deploys = k.Deploy
	pc.InsecureRegistries = k.InsecureRegistries
	pc.BuildKit = BuildKitConfig{Mode: k.BuildKit.Mode, Image: k.BuildKit.Image, Resources: compileResources(k.BuildKit.Resources)}
	pc.Patches, _ = k.Patches()
	return pc, nil
}

// compileResources converts validated resources.
func compileResources(r config.Resources) ResourceConfig {
	rl, _ := r.Requirements()
	return ResourceConfig(rl)
}
