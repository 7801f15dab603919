package buildkit

import "testing"

// TestSecurityContextIsUnprivileged: whatever BuildKit needs, the pod never gets privilege,
// root or extra capabilities.
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
	if sc.AllowPrivilegeEscalation != nil && *sc.AllowPrivilegeEscalation {
		t.Error("allows privilege escalation")
	}
}
