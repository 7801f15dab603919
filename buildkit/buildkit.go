package buildkit

import (
	_ "embed"

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
	// SeccompProfileName is the Localhost seccomp profile of the BuildKit container, relative
	// to the kubelet's seccomp directory (<kubelet --root-dir>/seccomp, by default
	// /var/lib/kubelet/seccomp). Every node that runs job pods must hold SeccompProfile()
	// there; manifests/seccomp/buildkit-rootless.json is the same file for operators.
	SeccompProfileName = "kuberunner/buildkit-rootless.json"
)

// DaemonArgs start buildkitd rootless. rootlesskit creates the user namespace and maps uid
// 0..65536 in it onto the user and its /etc/subuid range with newuidmap/newgidmap: image
// layers hold files of other owners (root:shadow, root:mail, ...) and build steps may chown
// or switch USER, so one mapped uid is not enough (FINDINGS.md).
// --oci-worker-no-process-sandbox: a pod cannot mount a new /proc in the worker's PID
// namespace without CAP_SYS_ADMIN, so build steps share the daemon's process namespace (the
// sandbox the pod itself gives stays).
func DaemonArgs() []string {
	return []string{"rootlesskit", "buildkitd", "--oci-worker-no-process-sandbox"}
}

// keptCapabilities are the only capabilities left in the container's bounding set:
// newuidmap and newgidmap carry the file capabilities cap_setuid and cap_setgid (see
// e2e/images/buildkit-rootless/Dockerfile), and exec of such a file fails with EPERM when its
// capabilities are not in the bounding set. The user is not root, so the container holds no
// capability itself; nothing is added.
var keptCapabilities = []corev1.Capability{"SETUID", "SETGID"}

// droppedCapabilities are the container runtimes' default capabilities but keptCapabilities
// (containerd's and CRI-O's defaults). Dropping "ALL" and adding SETUID and SETGID back would
// leave the same bounding set but count as added capabilities.
var droppedCapabilities = []corev1.Capability{
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETPCAP", "SYS_CHROOT",
}

// SecurityContext is the rootless BuildKit container's: not privileged, non-root, no
// capability added and all but SETUID and SETGID dropped from the bounding set, seccomp
// Localhost (SeccompProfile), AppArmor Unconfined.
//
// allowPrivilegeEscalation stays true, and this container is the one exception in a job
// pod: rootlesskit writes the user namespace's uid/gid maps with newuidmap/newgidmap, which
// gain CAP_SETUID/CAP_SETGID from their file capabilities. The kernel lets an unprivileged
// process map only its own uid (one line); any wider map needs CAP_SETUID in the parent
// namespace, and no_new_privs (allowPrivilegeEscalation: false) stops exec from granting
// file capabilities or setuid. With it set, rootlesskit fails with "newuidmap: write to
// uid_map failed: Operation not permitted". A single-uid namespace (unshare
// --map-root-user) runs with it set but cannot unpack Debian-based images or run chown or
// USER steps; see FINDINGS.md.
//
// AppArmor is Unconfined because the runtime's default profile denies mount; the e2e node
// has no AppArmor, so this is not tested there.
func SecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		Privileged:               ptr.To(false),
		AllowPrivilegeEscalation: ptr.To(true),
		RunAsUser:                ptr.To(int64(UID)),
		RunAsGroup:               ptr.To(int64(UID)),
		RunAsNonRoot:             ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: append([]corev1.Capability(nil), droppedCapabilities...)},
		SeccompProfile: &corev1.SeccompProfile{
			Type:             corev1.SeccompProfileTypeLocalhost,
			LocalhostProfile: ptr.To(SeccompProfileName),
		},
		AppArmorProfile: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined},
	}
}

//go:embed seccomp.json
var seccompProfile []byte

// SeccompProfile is the JSON of the Localhost seccomp profile SeccompProfileName names:
// containerd's RuntimeDefault for a container without capabilities (taken from containerd
// 1.6's generated spec) plus what rootlesskit, buildkitd and runc need in the user namespace
// they create, each found necessary by removing it (FINDINGS.md):
//
//   - clone with CLONE_NEW* flags (rootlesskit starts its child in new user and mount
//     namespaces; RuntimeDefault allows clone only without those flags), unshare (runc's
//     namespaces for build steps);
//   - mount, umount2 (rootlesskit's private /, buildkitd's overlay snapshots), pivot_root
//     (runc entering a step's root filesystem), sethostname (the step's UTS namespace).
//
// keyctl returns ENOSYS, which runc takes as "no session keyring" (keyrings are not
// namespaced, RuntimeDefault denies them too); clone3 returns ENOSYS as in RuntimeDefault,
// so callers fall back to clone. setns is not needed.
//
// The format is the OCI runtime spec's linux.seccomp, which containerd reads for a Localhost
// profile; it is also valid Docker/CRI-O profile JSON.
func SeccompProfile() []byte {
	return append([]byte(nil), seccompProfile...)
}
