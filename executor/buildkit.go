package executor

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kuberunner/kuberunner/buildkit"
	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/jobspec"
)

// buildKitVariable is how a job asks for an image builder, in .gitlab-ci.yml:
// variables: {KUBERUNNER_BUILDKIT: "true"}. A variable, not a reserved service name: it
// needs no image of the user's choosing and reads the same in local pipelines.
const buildKitVariable = "KUBERUNNER_BUILDKIT"

const (
	buildKitContainer    = "buildkitd"
	buildKitVolume       = "kr-buildkit"
	buildKitConfigVolume = "kr-buildkit-config"
	// buildKitConfigDir holds only buildkitd.toml, from the job's Secret: the daemon has
	// no business with the job payload and its tokens.
	buildKitConfigDir = "/kr/buildkit"
	// buildKitAddr: the daemon listens on the pod's loopback, which only the job's own
	// containers share; a socket in a shared volume would need a user both sides agree on.
	buildKitAddr = "tcp://127.0.0.1:1234"
)

// BuildKitConfig is the compiled buildkit section.
type BuildKitConfig struct {
	Mode      string
	Image     string
	Resources ResourceConfig
}

// wantsBuildKit says whether the job gets the BuildKit sidecar.
func (pc *PodConfig) wantsBuildKit(vars jobspec.Variables) (bool, error) {
	asked := false
	switch v := strings.ToLower(vars.Get(buildKitVariable)); v {
	case "", "false", "0", "no":
	case "true", "1", "yes":
		asked = true
	default:
		return false, fmt.Errorf("%w: %s=%q is not true or false", ErrInvalidJob, buildKitVariable, v)
	}
	switch pc.BuildKit.Mode {
	case config.BuildKitAlways:
		return true, nil
	case config.BuildKitForbidden:
		if asked {
			return false, fmt.Errorf("%w: the job asks for an image builder (%s) and this runner's configuration forbids it (kubernetes.buildkit.mode: forbidden)",
				errForbiddenByConfig, buildKitVariable)
		}
		return false, nil
	}
	return asked, nil
}

// buildKitContainer is the rootless daemon as a native sidecar: it starts before the build
// container and stops after it. The buildkit package decides how it runs and with which
// security context; the executor only wires it into the pod. No startup probe: the build
// command waits for the daemon itself, so the script's first lines do not wait.
func (pc *PodConfig) buildKitContainer() corev1.Container {
	args := append(buildkit.DaemonArgs(), "--addr", buildKitAddr,
		"--config", buildKitConfigDir+"/"+jobpod.BuildKitConfigFile)
	return corev1.Container{
		Name:            buildKitContainer,
		Image:           pc.BuildKit.Image,
		Command:         args[:1],
		Args:            args[1:],
		Resources:       *pc.BuildKit.Resources.Default.DeepCopy(),
		SecurityContext: buildkit.SecurityContext(),
		RestartPolicy:   ptr(corev1.ContainerRestartPolicyAlways),
		VolumeMounts: []corev1.VolumeMount{
			{Name: buildKitVolume, MountPath: buildkit.StateDir},
			{Name: buildKitConfigVolume, MountPath: buildKitConfigDir, ReadOnly: true},
		},
	}
}

// buildKitConfigTOML lets the daemon pull from and push to the insecure registries.
func buildKitConfigTOML(insecure []string) []byte {
	var b strings.Builder
	for _, r := range insecure {
		fmt.Fprintf(&b, "[registry.%q]\n  http = true\n  insecure = true\n", r)
	}
	return []byte(b.String())
}

// buildKitVolumes are the daemon's state (an emptyDir: the cache that matters lives in the
// registry) and its configuration.
func buildKitVolumes(secretName string) []corev1.Volume {
	return []corev1.Volume{
		{Name: buildKitVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: buildKitConfigVolume, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName:  secretName,
			Items:       []corev1.KeyToPath{{Key: jobpod.BuildKitConfigFile, Path: jobpod.BuildKitConfigFile}},
			DefaultMode: ptr(int32(0o444)),
		}}},
	}
}
