package executor

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/jobspec"
)

// securityProfileVariable lets a job ask for the hardened profile.
const securityProfileVariable = "KUBERUNNER_SECURITY_PROFILE"

// Security is the compiled security context of a job's containers, for one profile.
type Security struct {
	Container *corev1.SecurityContext
	Pod       *corev1.PodSecurityContext
}

// compileSecurity compiles both profiles: the runner's own, and hardened for jobs that ask
// (equal to the runner's when that is hardened already).
func compileSecurity(s config.SecurityContext) (runner, hardened Security) {
	h := s
	h.Profile = config.ProfileHardened
	return compileProfile(s), compileProfile(h)
}

// compileProfile never sets privileged, privilege escalation or added capabilities: the
// config cannot express them.
func compileProfile(s config.SecurityContext) Security {
	sc := &corev1.SecurityContext{
		Privileged:               ptr(false),
		AllowPrivilegeEscalation: ptr(false),
		RunAsUser:                s.RunAsUser,
		RunAsGroup:               s.RunAsGroup,
	}
	if s.RunAsNonRoot {
		sc.RunAsNonRoot = ptr(true)
	}
	// NET_RAW is the one default capability a CI job has no use for that helps an attacker
	// (ARP and DNS spoofing on the node's network).
	drop := []string{"NET_RAW"}
	var psc *corev1.PodSecurityContext
	if s.FSGroup != nil {
		psc = &corev1.PodSecurityContext{FSGroup: s.FSGroup}
	}
	if s.Profile == config.ProfileHardened {
		drop = []string{"ALL"}
		sc.RunAsNonRoot = ptr(true)
		if sc.RunAsUser == nil {
			sc.RunAsUser = ptr(int64(config.DefaultHardenedUser))
		}
		if sc.RunAsGroup == nil {
			sc.RunAsGroup = sc.RunAsUser
		}
		if psc == nil {
			// The workspace and the bin volume must be the job user's to write.
			psc = &corev1.PodSecurityContext{FSGroup: sc.RunAsGroup}
		}
	}
	if s.CapDrop != nil {
		drop = s.CapDrop
	}
	sc.Capabilities = &corev1.Capabilities{}
	for _, c := range drop {
		sc.Capabilities.Drop = append(sc.Capabilities.Drop, corev1.Capability(c))
	}
	if s.SeccompProfile != "" {
		sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileType(s.SeccompProfile)}
	}
	return Security{Container: sc, Pod: psc}
}

// securityFor is the profile the job runs under: the runner's, or hardened when the job
// asks. A job cannot loosen a hardened runner.
func (pc *PodConfig) securityFor(vars jobspec.Variables) (Security, error) {
	switch p := vars.Get(securityProfileVariable); p {
	case "":
		return pc.Security, nil
	case config.ProfileHardened:
		return pc.Hardened, nil
	case config.ProfileDefault:
		if pc.SecurityProfile == config.ProfileHardened {
			return Security{}, fmt.Errorf("%w: %s=%s: this runner's security profile is hardened and a job cannot loosen it",
				ErrInvalidJob, securityProfileVariable, p)
		}
		return pc.Security, nil
	default:
		return Security{}, fmt.Errorf("%w: %s=%q is not %s or %s", ErrInvalidJob, securityProfileVariable, p,
			config.ProfileDefault, config.ProfileHardened)
	}
}

func ptr[T any](v T) *T { return &v }
