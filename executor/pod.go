package executor

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kuberunner/kuberunner/buildkit"
	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/internal/podpatch"
	"github.com/kuberunner/kuberunner/jobspec"
)

// Container and volume names of a job pod. prepareContainer is in pods of earlier versions
// only (prepare now runs in the shipper's hook): an adopted one is still judged by it.
const (
	prepareContainer = jobpod.PrepareContainer
	buildContainer   = jobpod.BuildContainer

	binVolume    = "kr-bin"
	jobVolume    = "kr-job"
	buildsVolume = "builds"
	cacheVolume  = "kr-cache"
)

// defaultJobTimeout applies when the coordinator sends none (GitLab's own default).
const defaultJobTimeout = 3600

// PodName is the name of a job's pod and of its other objects.
func PodName(jobID int64) string { return fmt.Sprintf("kr-job-%d", jobID) }

// JobObjects are everything a job puts in the cluster, created, owned, cleaned up and swept
// together: the pod, its Secret and, for deploy jobs, a ServiceAccount (owned by the
// Secret) and a RoleBinding in the environment's namespace.
type JobObjects struct {
	Pod            *corev1.Pod
	Secret         *corev1.Secret
	ServiceAccount *corev1.ServiceAccount
	RoleBinding    *rbacv1.RoleBinding
	// TokenSeconds is the deploy token's lifetime: the pod's deadline, at least the
	// API's minimum.
	TokenSeconds int64
}

// BuildPod translates a job into its pod and its Secret; see BuildJob.
func BuildPod(job *jobspec.Job, pc PodConfig) (*corev1.Pod, *corev1.Secret, error) {
	o, err := BuildJob(job, pc)
	if err != nil {
		return nil, nil, err
	}
	return o.Pod, o.Secret, nil
}

// BuildJob translates a job into its objects; it does no I/O. Errors wrapping ErrInvalidJob
// are the job's fault; errForbiddenByConfig, a request the configuration refuses.
func BuildJob(job *jobspec.Job, pc PodConfig) (*JobObjects, error) {
	// The job as the agent sees it: GitLab's variables plus the runner's.
	j := *job
	j.Variables = append(slices.Clone(job.Variables), pc.runnerVariables(job)...)
	public := publicVariables(j.Variables)

	meta := metav1.ObjectMeta{
		Name:        PodName(job.ID),
		Namespace:   pc.Namespace,
		Labels:      pc.podLabels(&j, public),
		Annotations: pc.podAnnotations(&j, public),
	}
	f, err := pc.features(&j)
	if err != nil {
		return nil, err
	}
	agent := jobpod.Config{
		GitLabURL:        pc.Runner.GitLabURL,
		BuildsDir:        jobpod.BuildsDir,
		ProjectDir:       projectDir(&j),
		Entrypoint:       job.Image.Entrypoint,
		Kubectl:          f.deploy != nil,
		PrepareInShipper: true, // the shipper's hook runs prepare (shipperContainer)
	}
	if pc.CacheClaim != "" {
		agent.CacheDir = jobpod.CacheDir
	} else {
		agent.CacheURL = pc.CacheURL
	}
	secret, err := buildSecret(*meta.DeepCopy(), &j, agent, len(job.Services) > 0)
	if err != nil {
		return nil, err
	}
	if f.buildKit {
		secret.Data[jobpod.BuildKitConfigFile] = buildKitConfigTOML(pc.InsecureRegistries)
	}

	spec, err := pc.podSpec(&j, f, secret)
	if err != nil {
		return nil, err
	}
	o := &JobObjects{
		Pod: &corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: meta,
			Spec:       *spec,
		},
		Secret: secret,
	}
	if f.deploy != nil {
		o.ServiceAccount, o.RoleBinding = deployObjects(*meta.DeepCopy(), f.deploy)
		o.TokenSeconds = max(minTokenSeconds, *spec.ActiveDeadlineSeconds)
	}
	return o, nil
}

// features are what a job gets beyond its script: a security profile, an image builder,
// cluster access.
type features struct {
	security Security
	buildKit bool
	deploy   *config.Deploy
}

func (pc *PodConfig) features(job *jobspec.Job) (features, error) {
	var f features
	var err error
	if f.security, err = pc.securityFor(job.Variables); err != nil {
		return f, err
	}
	if f.buildKit, err = pc.wantsBuildKit(job.Variables); err != nil {
		return f, err
	}
	f.deploy = pc.deployFor(job.Variables)
	return f, nil
}

func (pc *PodConfig) podSpec(job *jobspec.Job, f features, secret *corev1.Secret) (*corev1.PodSpec, error) {
	serviceSecret := ""
	if len(job.Services) > 0 {
		serviceSecret = secret.Name
	}
	volumes, mounts := pc.volumes(secret, f)
	services, hostAliases, err := pc.serviceContainers(job, serviceSecret, mounts.service, f.security)
	if err != nil {
		return nil, err
	}
	build, err := pc.buildContainer(job, f, secret, mounts.build)
	if err != nil {
		return nil, err
	}
	shipper, err := pc.shipperContainer(job, f, mounts.shipper)
	if err != nil {
		return nil, err
	}
	// The shipper first: it runs prepare, and ships from the first byte to the last.
	sidecars := append([]corev1.Container{shipper}, services...)
	if f.buildKit {
		sidecars = slices.Insert(sidecars, 1, pc.buildKitContainer())
	}

	timeout := int64(job.RunnerInfo.Timeout)
	if timeout <= 0 {
		timeout = defaultJobTimeout
	}
	spec := &corev1.PodSpec{
		RestartPolicy:                 corev1.RestartPolicyNever,
		InitContainers:                sidecars,
		Containers:                    []corev1.Container{build},
		Volumes:                       volumes,
		ServiceAccountName:            pc.ServiceAccount,
		AutomountServiceAccountToken:  ptr(pc.AutomountToken),
		NodeSelector:                  pc.NodeSelector,
		Tolerations:                   pc.Tolerations,
		Affinity:                      pc.Affinity.DeepCopy(),
		SecurityContext:               f.security.Pod.DeepCopy(),
		HostAliases:                   hostAliases,
		ActiveDeadlineSeconds:         ptr(timeout + int64(pc.DeadlineMargin.Seconds())),
		TerminationGracePeriodSeconds: ptr(int64(pc.podGrace().Seconds())),
		// Service links would add an environment variable per Service in the namespace
		// to every container: noise in the job's environment.
		EnableServiceLinks: ptr(false),
	}
	for _, name := range pc.ImagePullSecrets {
		spec.ImagePullSecrets = append(spec.ImagePullSecrets, corev1.LocalObjectReference{Name: name})
	}
	if secret.Type == corev1.SecretTypeDockerConfigJson {
		spec.ImagePullSecrets = append(spec.ImagePullSecrets, corev1.LocalObjectReference{Name: secret.Name})
	}
	// The configuration's pod_spec_patches come last, over everything above.
	return podpatch.Apply(spec, pc.Patches)
}

// buildContainer runs the job image with the agent as its command. Its environment tells
// the build and deploy tools where the job's daemon, credentials and cluster are.
func (pc *PodConfig) buildContainer(job *jobspec.Job, f features, secret *corev1.Secret, mounts []corev1.VolumeMount) (corev1.Container, error) {
	image := pc.DefaultImage
	if job.Image.Name != "" {
		var err error
		if image, err = expandImage("image", job.Image.Name, job.Variables); err != nil {
			return corev1.Container{}, err
		}
	}
	policy, err := pc.pullPolicy(image, job.Image.PullPolicy)
	if err != nil {
		return corev1.Container{}, err
	}
	res, err := pc.Build.forJob(buildResourcePrefix, job.Variables)
	if err != nil {
		return corev1.Container{}, err
	}
	env := containerEnv(job.Variables, "")
	if f.buildKit {
		env = append(env, corev1.EnvVar{Name: buildkit.HostEnv, Value: buildKitAddr})
	}
	if _, ok := secret.Data[corev1.DockerConfigJsonKey]; ok {
		env = append(env, corev1.EnvVar{Name: buildkit.DockerConfigEnv, Value: jobpod.DockerConfigDir})
	}
	if len(pc.InsecureRegistries) > 0 {
		env = append(env, corev1.EnvVar{Name: buildkit.InsecureRegistriesEnv, Value: strings.Join(pc.InsecureRegistries, ",")})
	}
	if f.deploy != nil {
		env = append(env, corev1.EnvVar{Name: "KUBECONFIG", Value: jobpod.JobDir + "/" + jobpod.KubeconfigFile})
	}
	return corev1.Container{
		Name:            buildContainer,
		Image:           image,
		Command:         []string{jobpod.Binary, "step", "run"},
		WorkingDir:      projectDir(job),
		Env:             env,
		Resources:       res,
		VolumeMounts:    mounts,
		ImagePullPolicy: policy,
		SecurityContext: f.security.Container.DeepCopy(),
	}, nil
}

type containerMounts struct{ shipper, build, service []corev1.VolumeMount }

// volumes: the agent binary (written by prepare, read by build), the job Secret (only the
// agent's two files, read-only), the workspace and, if configured, the cache claim.
func (pc *PodConfig) volumes(secret *corev1.Secret, f features) ([]corev1.Volume, containerMounts) {
	items := []corev1.KeyToPath{
		{Key: jobpod.JobFile, Path: jobpod.JobFile},
		{Key: jobpod.ConfigFile, Path: jobpod.ConfigFile},
	}
	if _, ok := secret.Data[corev1.DockerConfigJsonKey]; ok {
		items = append(items, corev1.KeyToPath{Key: corev1.DockerConfigJsonKey,
			Path: strings.TrimPrefix(jobpod.DockerConfigDir, jobpod.JobDir+"/") + "/config.json"})
	}
	if f.deploy != nil {
		// The key is added when the token exists, before the pod is created.
		items = append(items, corev1.KeyToPath{Key: jobpod.KubeconfigFile, Path: jobpod.KubeconfigFile})
	}
	volumes := []corev1.Volume{
		{Name: binVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: jobVolume, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: secret.Name,
			Items:      items,
			// Readable by whichever user the job image runs as; the script is
			// given these values anyway (CI_JOB_TOKEN), and no other pod mounts them.
			DefaultMode: ptr(int32(0o444)),
		}}},
		{Name: buildsVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	builds := corev1.VolumeMount{Name: buildsVolume, MountPath: jobpod.BuildsDir}
	job := corev1.VolumeMount{Name: jobVolume, MountPath: jobpod.JobDir, ReadOnly: true}
	m := containerMounts{
		shipper: []corev1.VolumeMount{{Name: binVolume, MountPath: jobpod.BinDir}, job, builds},
		build:   []corev1.VolumeMount{{Name: binVolume, MountPath: jobpod.BinDir, ReadOnly: true}, job, builds},
		service: []corev1.VolumeMount{builds},
	}
	if pc.CacheClaim != "" {
		volumes = append(volumes, corev1.Volume{Name: cacheVolume, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: pc.CacheClaim},
		}})
		cache := corev1.VolumeMount{Name: cacheVolume, MountPath: jobpod.CacheDir}
		m.shipper = append(m.shipper, cache)
		m.build = append(m.build, cache)
	}
	if f.buildKit {
		volumes = append(volumes, buildKitVolumes(secret.Name)...)
	}
	// The trace file: prepare (in the shipper) and build write it, the shipper reads it.
	volumes = append(volumes, corev1.Volume{Name: traceVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	trace := corev1.VolumeMount{Name: traceVolume, MountPath: jobpod.TraceDir}
	m.shipper, m.build = append(m.shipper, trace), append(m.build, trace)
	return volumes, m
}
