// Package buildkit owns how kuberunner runs BuildKit inside a job pod: rootless, unprivileged,
// no added capabilities. It is the one place that knows what that takes; the image-build
// sidecar builds on it. Only this package is to import github.com/moby/buildkit.
package buildkit

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

const (
	// UID is the user of the rootless BuildKit image; its /etc/subuid and /etc/subgid
	// entries give the user namespace BuildKit's worker runs in.
	UID = 1000
	// StateDir is where rootless buildkitd keeps its state (cache, snapshots); mount an
	// emptyDir or a volume there.
	StateDir = "/home/user/.local/share/buildkit"
)

// DaemonArgs start buildkitd rootless. --oci-worker-no-process-sandbox: a pod cannot mount
// a new /proc in the worker's PID namespace without CAP_SYS_ADMIN, so build steps share
// the daemon's process namespace (the sandbox the pod itself gives stays).
func DaemonArgs() []string {
	return []string{"rootlesskit", "buildkitd", "--oci-worker-no-process-sandbox"}
}

// SecurityContext is the rootless container's: not privileged, no capabilities added,
// non-root. Seccomp and AppArmor are Unconfined because the runtime's default profiles
// refuse the unshare and mount calls a user namespace needs; newuidmap/newgidmap in the
// image carry file capabilities (not setuid), which is what lets them write the uid map.
func SecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		Privileged:      ptr.To(false),
		RunAsUser:       ptr.To(int64(UID)),
		RunAsGroup:      ptr.To(int64(UID)),
		RunAsNonRoot:    ptr.To(true),
		SeccompProfile:  &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined},
		AppArmorProfile: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined},
	}
}
