package executor

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/kuberunner/kuberunner/config"
)

// compileSecurity turns the config into the container security context every container of
// a job pod gets, and the pod-level part (fsGroup, so a non-root user can write volumes).
func compileSecurity(s config.SecurityContext) (*corev1.SecurityContext, *corev1.PodSecurityContext) {
	sc := &corev1.SecurityContext{
		RunAsUser:  s.RunAsUser,
		RunAsGroup: s.RunAsGroup,
	}
	if s.RunAsNonRoot {
		sc.RunAsNonRoot = ptr(true)
	}
	switch {
	case s.Privileged:
		// Kubernetes refuses privileged without privilege escalation.
		sc.Privileged = ptr(true)
		sc.AllowPrivilegeEscalation = ptr(true)
	case s.AllowPrivilegeEscalation != nil:
		sc.AllowPrivilegeEscalation = s.AllowPrivilegeEscalation
	default:
		sc.AllowPrivilegeEscalation = ptr(false)
	}
	if len(s.CapAdd) > 0 || len(s.CapDrop) > 0 {
		sc.Capabilities = &corev1.Capabilities{}
		for _, c := range s.CapAdd {
			sc.Capabilities.Add = append(sc.Capabilities.Add, corev1.Capability(c))
		}
		for _, c := range s.CapDrop {
			sc.Capabilities.Drop = append(sc.Capabilities.Drop, corev1.Capability(c))
		}
	}
	if s.SeccompProfile != "" {
		sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileType(s.SeccompProfile)}
	}
	var psc *corev1.PodSecurityContext
	if s.FSGroup != nil {
		psc = &corev1.PodSecurityContext{FSGroup: s.FSGroup}
	}
	return sc, psc
}

func ptr[T any](v T) *T { return &v }
