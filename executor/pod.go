package executor

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/jobspec"
)

// Container and volume names of a job pod.
const (
	prepareContainer = "prepare"
	buildContainer   = "build"

	binVolume    = "kr-bin"
	jobVolume    = "kr-job"
	buildsVolume = "builds"
	cacheVolume  = "kr-cache"
)

// defaultJobTimeout applies when the coordinator sends none (GitLab's own default).
const defaultJobTimeout = 3600

// PodName is the name of a job's pod and of its Secret.
func PodName(jobID int64) string { return fmt.Sprintf("kr-job-%d", jobID) }

// BuildPod translates a job into its pod and its Secret; it does no I/O. The Secret must be
// created first (the pod mounts it). Errors wrapping ErrInvalidJob are the job's fault.
func BuildPod(job *jobspec.Job, pc PodConfig) (*corev1.Pod, *corev1.Secret, error) {
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
	agent := jobpod.Config{
		GitLabURL:  pc.Runner.GitLabURL,
		BuildsDir:  jobpod.BuildsDir,
		ProjectDir: projectDir(&j),
		Entrypoint: job.Image.Entrypoint,
	}
	if pc.CacheClaim != "" {
		agent.CacheDir = jobpod.CacheDir
	}
	secret, err := buildSecret(*meta.DeepCopy(), &j, agent, len(job.Services) > 0)
	if err != nil {
		return nil, nil, err
	}

	spec, err := pc.podSpec(&j, public, secret)
	if err != nil {
		return nil, nil, err
	}
	if spec, err = applyPatches(spec, pc.Patches); err != nil {
		return nil, nil, err
	}
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: meta,
		Spec:       *spec,
	}
	return pod, secret, nil
}

func (pc *PodConfig) podSpec(job *jobspec.Job, public jobspec.Variables, secret *corev1.Secret) (*corev1.PodSpec, error) {
	image := imageVariables(job.Variables).Expand(job.Image.Name)
	if image == "" {
		image = pc.DefaultImage
	}
	buildPolicy, err := pc.pullPolicy(image, job.Image.PullPolicy)
	if err != nil {
		return nil, err
	}
	buildRes, err := pc.Build.forJob(buildResourcePrefix, job.Variables)
	if err != nil {
		return nil, err
	}
	helperRes, err := pc.Helper.forJob(helperResourcePrefix, job.Variables)
	if err != nil {
		return nil, err
	}
	volumes, mounts := pc.volumes(secret.Name)
	dir := projectDir(job)

	prepare := corev1.Container{
		Name:            prepareContainer,
		Image:           pc.HelperImage,
		Command:         []string{"kuberunner", "step", "prepare"},
		Resources:       helperRes,
		VolumeMounts:    mounts.prepare,
		SecurityContext: pc.SecurityContext.DeepCopy(),
	}
	build := corev1.Container{
		Name:            buildContainer,
		Image:           image,
		Command:         []string{jobpod.Binary, "step", "run"},
		WorkingDir:      dir,
		Env:             containerEnv(job.Variables, ""),
		Resources:       buildRes,
		VolumeMounts:    mounts.build,
		ImagePullPolicy: buildPolicy,
		SecurityContext: pc.SecurityContext.DeepCopy(),
	}
	serviceSecret := ""
	if len(job.Services) > 0 {
		serviceSecret = secret.Name
	}
	services, hostAliases, err := pc.serviceContainers(job, serviceSecret, mounts.service)
	if err != nil {
		return nil, err
	}

	timeout := int64(job.RunnerInfo.Timeout)
	if timeout <= 0 {
		timeout = defaultJobTimeout
	}
	spec := &corev1.PodSpec{
		RestartPolicy:                 corev1.RestartPolicyNever,
		InitContainers:                append([]corev1.Container{prepare}, services...),
		Containers:                    []corev1.Container{build},
		Volumes:                       volumes,
		ServiceAccountName:            pc.ServiceAccount,
		AutomountServiceAccountToken:  ptr(pc.AutomountToken),
		NodeSelector:                  pc.NodeSelector,
		Tolerations:                   pc.Tolerations,
		Affinity:                      pc.Affinity.DeepCopy(),
		SecurityContext:               pc.PodSecurityContext.DeepCopy(),
		HostAliases:                   hostAliases,
		ActiveDeadlineSeconds:         ptr(timeout + int64(pc.DeadlineMargin.Seconds())),
		TerminationGracePeriodSeconds: ptr(int64(pc.GracefulCancel.Seconds())),
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
	return spec, nil
}

type containerMounts struct{ prepare, build, service []corev1.VolumeMount }

// volumes: the agent binary (written by prepare, read by build), the job Secret (only the
// agent's two files, read-only), the workspace and, if configured, the cache claim.
func (pc *PodConfig) volumes(secretName string) ([]corev1.Volume, containerMounts) {
	volumes := []corev1.Volume{
		{Name: binVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: jobVolume, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: secretName,
			Items: []corev1.KeyToPath{
				{Key: jobpod.JobFile, Path: jobpod.JobFile},
				{Key: jobpod.ConfigFile, Path: jobpod.ConfigFile},
			},
			// Readable by whichever user the job image runs as; the script is
			// given these values anyway (CI_JOB_TOKEN), and no other pod mounts them.
			DefaultMode: ptr(int32(0o444)),
		}}},
		{Name: buildsVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	builds := corev1.VolumeMount{Name: buildsVolume, MountPath: jobpod.BuildsDir}
	job := corev1.VolumeMount{Name: jobVolume, MountPath: jobpod.JobDir, ReadOnly: true}
	m := containerMounts{
		prepare: []corev1.VolumeMount{{Name: binVolume, MountPath: jobpod.BinDir}, job, builds},
		build:   []corev1.VolumeMount{{Name: binVolume, MountPath: jobpod.BinDir, ReadOnly: true}, job, builds},
		service: []corev1.VolumeMount{builds},
	}
	if pc.CacheClaim != "" {
		volumes = append(volumes, corev1.Volume{Name: cacheVolume, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: pc.CacheClaim},
		}})
		cache := corev1.VolumeMount{Name: cacheVolume, MountPath: jobpod.CacheDir}
		m.prepare = append(m.prepare, cache)
		m.build = append(m.build, cache)
	}
	return volumes, m
}
