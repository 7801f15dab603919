package buildkit

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// runtimeDefaultCapabilities is containerd's (and CRI-O's) default capability set.
var runtimeDefaultCapabilities = []corev1.Capability{
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

// TestSecurityContextIsUnprivileged: whatever BuildKit needs, the pod never gets privilege,
// root or extra capabilities, and seccomp stays on.
func TestSecurityContextIsUnprivileged(t *testing.T) {
	sc := SecurityContext()
	if sc.Privileged == nil || *sc.Privileged {
		t.Error("privileged must be set to false")
	}
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Errorf("must run as a non-root user, got runAsNonRoot=%v runAsUser=%v", sc.RunAsNonRoot, sc.RunAsUser)
	}
	if sc.Capabilities != nil && len(sc.Capabilities.Add) > 0 {
		t.Errorf("adds capabilities %v", sc.Capabilities.Add)
	}
	if sp := sc.SeccompProfile; sp == nil || sp.Type != corev1.SeccompProfileTypeLocalhost ||
		sp.LocalhostProfile == nil || *sp.LocalhostProfile != SeccompProfileName {
		t.Errorf("seccomp: want Localhost %q, got %+v", SeccompProfileName, sp)
	}
}

// TestPrivilegeEscalationOnlyForTheIDMapHelpers pins the one exception: escalation stays
// allowed (newuidmap/newgidmap's file capabilities), and then the bounding set holds nothing
// but what those two binaries carry.
func TestPrivilegeEscalationOnlyForTheIDMapHelpers(t *testing.T) {
	sc := SecurityContext()
	if sc.AllowPrivilegeEscalation == nil || !*sc.AllowPrivilegeEscalation {
		// Were it false, rootlesskit could not map the subordinate ids (FINDINGS.md).
		t.Fatal("allowPrivilegeEscalation: want it set to true explicitly, the documented exception")
	}
	if sc.Capabilities == nil {
		t.Fatal("no capabilities dropped")
	}
	var left []corev1.Capability
	for _, c := range runtimeDefaultCapabilities {
		if !slices.Contains(sc.Capabilities.Drop, c) {
			left = append(left, c)
		}
	}
	want := slices.Clone(keptCapabilities)
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("bounding set left of the runtime default: want %v, got %v", want, left)
	}
}

// TestSeccompProfile: the profile is RuntimeDefault-shaped (deny by default) and allows the
// calls rootless BuildKit needs, not setns, and the operators' copy is the same file.
func TestSeccompProfile(t *testing.T) {
	var p struct {
		DefaultAction string `json:"defaultAction"`
		Syscalls      []struct {
			Names    []string `json:"names"`
			Action   string   `json:"action"`
			ErrnoRet *uint    `json:"errnoRet"`
			Args     []any    `json:"args"`
		} `json:"syscalls"`
	}
	if err := json.Unmarshal(SeccompProfile(), &p); err != nil {
		t.Fatalf("profile is not JSON: %v", err)
	}
	if p.DefaultAction != "SCMP_ACT_ERRNO" {
		t.Errorf("defaultAction: want SCMP_ACT_ERRNO, got %q", p.DefaultAction)
	}
	allowed := map[string]bool{}
	enosys := map[string]bool{}
	for _, r := range p.Syscalls {
		for _, n := range r.Names {
			switch {
			case r.Action == "SCMP_ACT_ALLOW" && len(r.Args) == 0:
				allowed[n] = true
			case r.Action == "SCMP_ACT_ERRNO" && r.ErrnoRet != nil && *r.ErrnoRet == 38:
				enosys[n] = true
			}
		}
	}
	for _, n := range []string{"clone", "unshare", "mount", "umount2", "pivot_root", "sethostname", "read", "execve"} {
		if !allowed[n] {
			t.Errorf("%s is not allowed unconditionally", n)
		}
	}
	for _, n := range []string{"setns", "keyctl", "clone3", "bpf", "init_module", "kexec_load", "open_by_handle_at"} {
		if allowed[n] {
			t.Errorf("%s is allowed", n)
		}
	}
	for _, n := range []string{"keyctl", "clone3"} {
		if !enosys[n] {
			t.Errorf("%s must fail with ENOSYS (38), so callers fall back", n)
		}
	}

	shipped, err := os.ReadFile("../manifests/seccomp/buildkit-rootless.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(shipped, SeccompProfile()) {
		t.Error("manifests/seccomp/buildkit-rootless.json differs from buildkit/seccomp.json: copy one onto the other")
	}
}
