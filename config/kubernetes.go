package config

import (
	"strings"
	"time"
)

// Kubernetes holds the Kubernetes executor's settings. The executor owns this file.
// Kubernetes object shapes that the config does not model field by field (affinity, pod spec
// patches) are written exactly as in a Kubernetes manifest; Validate decodes them strictly,
// so a typo is refused with its file, line and key before the first job.
type Kubernetes struct {
	// Kubeconfig and Context select the cluster; both empty means in-cluster config.
	Kubeconfig string `yaml:"kubeconfig,omitempty"`
	Context    string `yaml:"context,omitempty"`
	// Namespace is where job pods and their Secrets are created.
	Namespace string `yaml:"namespace"`
	// HelperImage is the kuberunner image of the trace shipper, which runs prepare too.
	HelperImage string `yaml:"helper_image"`
	// Image is the build image used when the job names none.
	Image string `yaml:"image"`

	// ServiceAccount runs job pods; empty means the namespace's default.
	ServiceAccount string `yaml:"service_account,omitempty"`
	// AutomountServiceAccountToken mounts the service account's API token into job pods.
	// Off by default: a CI script should not get cluster access by accident.
	AutomountServiceAccountToken bool `yaml:"automount_service_account_token,omitempty"`
	// NodeSelector, Tolerations and Affinity place job pods.
	NodeSelector map[string]string `yaml:"node_selector,omitempty"`
	Tolerations  []Toleration      `yaml:"tolerations,omitempty"`
	// Affinity is a core/v1 Affinity written as in a pod manifest (nodeAffinity, podAffinity, ...).
	Affinity map[string]any `yaml:"affinity,omitempty"`
	// PodLabels and PodAnnotations are added to every job pod; values may use the job's
	// public variables ($CI_PROJECT_PATH). Labels kuberunner sets itself cannot be overridden.
	PodLabels      map[string]string `yaml:"pod_labels,omitempty"`
	PodAnnotations map[string]string `yaml:"pod_annotations,omitempty"`
	// ImagePullSecrets names existing Secrets in Namespace used for every image pull, in
	// addition to the job's own registry credentials.
	ImagePullSecrets []string `yaml:"image_pull_secrets,omitempty"`

	// PullPolicy is the default pull policy: always, if-not-present or never; empty leaves
	// Kubernetes' default. AllowedPullPolicies lists what a job's image:pull_policy may ask
	// for; empty means only PullPolicy (or anything when PullPolicy is empty too).
	PullPolicy          string   `yaml:"pull_policy,omitempty"`
	AllowedPullPolicies []string `yaml:"allowed_pull_policies,omitempty"`

	// Build, Service and Helper size the job container, each service and the trace shipper (which runs prepare).
	Build   Resources `yaml:"build,omitempty"`
	Service Resources `yaml:"service,omitempty"`
	Helper  Resources `yaml:"helper,omitempty"`

	// SecurityContext applies to every container of a job pod but the BuildKit sidecar,
	// whose context the buildkit package fixes.
	SecurityContext SecurityContext `yaml:"security_context,omitempty"`
	// BuildKit gives jobs an image builder; Deploy gives them scoped cluster access.
	BuildKit BuildKit `yaml:"buildkit,omitempty"`
	Deploy   []Deploy `yaml:"deploy,omitempty"`
	// InsecureRegistries are host:port of registries reached over plain HTTP by image
	// builds and tags (never by the kubelet, which the node's container runtime configures).
	InsecureRegistries []string `yaml:"insecure_registries,omitempty"`

	// DeadlineMargin is added to the job's timeout for the pod's activeDeadlineSeconds, so
	// after_script and the artifact upload still run when the script used all of its time.
	DeadlineMargin Duration `yaml:"deadline_margin,omitempty"`
	// GracefulCancelTimeout is how long a cancelled job's pod may take to run after_script
	// and upload when:always artifacts before it is killed.
	GracefulCancelTimeout Duration `yaml:"graceful_cancel_timeout,omitempty"`
	// ServiceWaitTimeout bounds how long a job waits for a service that crashed: after it, a
	// job whose script could not start fails (runner_system_failure) instead of waiting
	// for its own timeout. As gitlab-runner's wait_for_services_timeout.
	ServiceWaitTimeout Duration `yaml:"service_wait_timeout,omitempty"`
	// CacheClaim is a PersistentVolumeClaim in Namespace holding the job cache; empty
	// disables caching between jobs.
	CacheClaim string `yaml:"cache_claim,omitempty"`
	// CacheURL is a cache server instead (GET and PUT of <url>/<key>, the job token in the
	// JOB-TOKEN header); local pipelines serve one. CacheClaim wins when both are set.
	CacheURL string `yaml:"cache_url,omitempty"`

	// PodSpecPatches change the pod spec after kuberunner built it, for anything the
	// options above do not model. Applied in order, last.
	PodSpecPatches []PodSpecPatch `yaml:"pod_spec_patches,omitempty"`
}

// Toleration is a core/v1 Toleration.
type Toleration struct {
	Key      string `yaml:"key,omitempty"`
	Operator string `yaml:"operator,omitempty"` // Exists | Equal
	Value    string `yaml:"value,omitempty"`
	Effect   string `yaml:"effect,omitempty"` // NoSchedule | PreferNoSchedule | NoExecute
	// TolerationSeconds applies to NoExecute only.
	TolerationSeconds *int64 `yaml:"toleration_seconds,omitempty"`
}

// Resources are Kubernetes quantities ("500m", "1Gi") for one kind of container. A job may
// override each value through KUBERNETES_[SERVICE_|HELPER_]{CPU,MEMORY}_{REQUEST,LIMIT}
// only up to the matching *_max_allowed value, and not at all when that is empty (as
// gitlab-runner's *_overwrite_max_allowed).
type Resources struct {
	CPURequest    string `yaml:"cpu_request,omitempty"`
	CPULimit      string `yaml:"cpu_limit,omitempty"`
	MemoryRequest string `yaml:"memory_request,omitempty"`
	MemoryLimit   string `yaml:"memory_limit,omitempty"`

	CPURequestMaxAllowed    string `yaml:"cpu_request_max_allowed,omitempty"`
	CPULimitMaxAllowed      string `yaml:"cpu_limit_max_allowed,omitempty"`
	MemoryRequestMaxAllowed string `yaml:"memory_request_max_allowed,omitempty"`
	MemoryLimitMaxAllowed   string `yaml:"memory_limit_max_allowed,omitempty"`
}

// SecurityContext is the security context of the job's containers. No container is ever
// privileged, may escalate privileges or gets a capability added; what remains is a choice
// between two profiles:
//   - default: root job images work as with gitlab-runner (apt-get, chown, cp -a): the
//     container runtime's default capability set minus NET_RAW, the runtime's seccomp profile;
//   - hardened: every capability dropped and a non-root user (1000 unless run_as_user says
//     otherwise), for clusters whose policy demands it; root-only tools then fail.
//
// A job may ask for the hardened profile with KUBERUNNER_SECURITY_PROFILE=hardened; it can
// never loosen the runner's.
type SecurityContext struct {
	// Profile is default or hardened.
	Profile string `yaml:"profile,omitempty"`
	// RunAsNonRoot refuses to start images whose user is root (implied by hardened).
	RunAsNonRoot bool   `yaml:"run_as_non_root,omitempty"`
	RunAsUser    *int64 `yaml:"run_as_user,omitempty"`
	RunAsGroup   *int64 `yaml:"run_as_group,omitempty"`
	// FSGroup owns the pod's volumes, so a non-root user can write the workspace.
	FSGroup *int64 `yaml:"fs_group,omitempty"`
	// CapDrop replaces the profile's list of dropped capabilities.
	CapDrop []string `yaml:"cap_drop,omitempty"`
	// SeccompProfile is RuntimeDefault (the default) or Unconfined.
	SeccompProfile string `yaml:"seccomp_profile,omitempty"`
}

// Security profiles.
const (
	ProfileDefault  = "default"
	ProfileHardened = "hardened"
)

// BuildKit decides which jobs get a rootless BuildKit daemon beside them.
type BuildKit struct {
	// Mode: allowed (jobs ask with KUBERUNNER_BUILDKIT=true; the default), always, or
	// forbidden (a job that asks fails with a configuration error).
	Mode string `yaml:"mode,omitempty"`
	// Image is the rootless BuildKit image of the sidecar.
	Image string `yaml:"image,omitempty"`
	// Resources size the sidecar (the job's KUBERNETES_* overrides do not apply to it).
	Resources Resources `yaml:"resources,omitempty"`
}

// BuildKit modes.
const (
	BuildKitAllowed   = "allowed"
	BuildKitAlways    = "always"
	BuildKitForbidden = "forbidden"
)

// Deploy gives jobs of matching GitLab environments access to one namespace for the
// length of the job: a ServiceAccount of their own bound to ClusterRole there.
type Deploy struct {
	// Environment is a GitLab environment name or a pattern with * wildcards, as
	// GitLab's environment scopes ("review/*", "*").
	Environment string `yaml:"environment"`
	// Namespace is where the job may act.
	Namespace string `yaml:"namespace"`
	// ClusterRole is bound in Namespace (default edit).
	ClusterRole string `yaml:"cluster_role,omitempty"`
}

// PodSpecPatch is one patch of the job pod's spec (not the whole pod), written in YAML or JSON.
type PodSpecPatch struct {
	// Name says what the patch is for, in error messages.
	Name string `yaml:"name"`
	// Patch is the patch document.
	Patch string `yaml:"patch"`
	// Type is strategic (the default: lists of containers merge by name), merge (RFC 7386)
	// or json (RFC 6902).
	Type string `yaml:"type,omitempty"`
}

// Defaults of the Kubernetes executor.
const (
	DefaultHelperImage           = "ghcr.io/kuberunner/kuberunner:latest"
	DefaultBuildImage            = "alpine:3"
	DefaultDeadlineMargin        = 10 * time.Minute
	DefaultGracefulCancelTimeout = 6 * time.Minute
	DefaultServiceWaitTimeout    = 30 * time.Second
	DefaultSeccompProfile        = "RuntimeDefault"
	DefaultBuildKitImage         = "moby/buildkit:v0.33.1-rootless"
	DefaultDeployClusterRole     = "edit"
	// DefaultHardenedUser runs hardened jobs whose config names no user.
	DefaultHardenedUser = 1000
)

// HelperImageFor is the helper image of a kuberunner version: the same version's image,
// latest for a development build.
func HelperImageFor(version string) string {
	if version == "" || version == "dev" || strings.Contains(version, "-dirty") {
		return DefaultHelperImage
	}
	return strings.TrimSuffix(DefaultHelperImage, ":latest") + ":" + version
}

// SetDefaults fills unset fields.
func (k *Kubernetes) SetDefaults() {
	setString(&k.Namespace, DefaultNamespace)
	setString(&k.HelperImage, DefaultHelperImage)
	setString(&k.Image, DefaultBuildImage)
	if k.DeadlineMargin == 0 {
		k.DeadlineMargin = Duration(DefaultDeadlineMargin)
	}
	if k.GracefulCancelTimeout == 0 {
		k.GracefulCancelTimeout = Duration(DefaultGracefulCancelTimeout)
	}
	if k.ServiceWaitTimeout == 0 {
		k.ServiceWaitTimeout = Duration(DefaultServiceWaitTimeout)
	}
	setString(&k.SecurityContext.Profile, ProfileDefault)
	setString(&k.SecurityContext.SeccompProfile, DefaultSeccompProfile)
	setString(&k.BuildKit.Mode, BuildKitAllowed)
	setString(&k.BuildKit.Image, DefaultBuildKitImage)
	for i := range k.Deploy {
		setString(&k.Deploy[i].ClusterRole, DefaultDeployClusterRole)
	}
	for i := range k.PodSpecPatches {
		setString(&k.PodSpecPatches[i].Type, "strategic")
	}
}

func setString(s *string, def string) {
	if *s == "" {
		*s = def
	}
}
