package executor

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kuberunner/kuberunner/jobspec"
)

// serviceContainers turns the job's services into native sidecars: init containers with
// restartPolicy Always, which start before the build container, run beside it and stop
// after it (Kubernetes 1.29+ by default). They share the pod's network, so every alias
// resolves to 127.0.0.1 through hostAliases.
func (pc *PodConfig) serviceContainers(job *jobspec.Job, secretName string, mounts []corev1.VolumeMount, sec Security) ([]corev1.Container, []corev1.HostAlias, error) {
	res, err := pc.Service.forJob(serviceResourcePrefix, job.Variables)
	if err != nil {
		return nil, nil, err
	}
	var containers []corev1.Container
	var hosts []string
	for i, svc := range job.Services {
		if svc.Name == "" {
			return nil, nil, fmt.Errorf("%w: services[%d] has no image name", ErrInvalidJob, i)
		}
		image, err := expandImage(fmt.Sprintf("services[%d]", i), svc.Name, job.Variables)
		if err != nil {
			return nil, nil, err
		}
		policy, err := pc.pullPolicy(image, svc.PullPolicy)
		if err != nil {
			return nil, nil, err
		}
		vars := append(slices.Clone(job.Variables), publicVariables(svc.Variables)...)
		c := corev1.Container{
			Name:            fmt.Sprintf("svc-%d", i),
			Image:           image,
			Command:         svc.Entrypoint,
			Args:            svc.Command,
			Env:             containerEnv(vars, secretName),
			Ports:           containerPorts(svc.Ports),
			Resources:       *res.DeepCopy(),
			VolumeMounts:    mounts,
			ImagePullPolicy: policy,
			SecurityContext: sec.Container.DeepCopy(),
			RestartPolicy:   ptr(corev1.ContainerRestartPolicyAlways),
		}
		containers = append(containers, c)
		for _, h := range serviceAliases(svc.Alias, image) {
			if !slices.Contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
	}
	if len(hosts) == 0 {
		return containers, nil, nil
	}
	return containers, []corev1.HostAlias{{IP: "127.0.0.1", Hostnames: hosts}}, nil
}

func containerPorts(ports []jobspec.Port) []corev1.ContainerPort {
	var out []corev1.ContainerPort
	for _, p := range ports {
		cp := corev1.ContainerPort{ContainerPort: int32(p.Number), Protocol: corev1.ProtocolTCP}
		if strings.EqualFold(p.Protocol, "udp") {
			cp.Protocol = corev1.ProtocolUDP
		}
		if len(validation.IsValidPortName(p.Name)) == 0 {
			cp.Name = p.Name
		}
		out = append(out, cp)
	}
	return out
}

var aliasSeparators = regexp.MustCompile(`[\s,]+`)

// serviceAliases are the host names a service answers to: its aliases (GitLab allows
// several, separated by spaces or commas) or, without one, names derived from the image as
// gitlab-runner does ("tutum/wordpress:4" -> tutum-wordpress and tutum__wordpress). Names
// that are not valid host names are left out.
func serviceAliases(alias, image string) []string {
	var names []string
	if alias != "" {
		names = aliasSeparators.Split(strings.TrimSpace(alias), -1)
	} else {
		name := image
		if at := strings.Index(name, "@"); at >= 0 {
			name = name[:at]
		}
		if colon := strings.LastIndex(name, ":"); colon > strings.LastIndex(name, "/") {
			name = name[:colon]
		}
		name = strings.ReplaceAll(name, ":", "-")
		names = []string{strings.ReplaceAll(name, "/", "-"), strings.ReplaceAll(name, "/", "__")}
	}
	var out []string
	for _, n := range names {
		n = strings.ToLower(n)
		if n != "" && len(validation.IsDNS1123Subdomain(n)) == 0 && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
