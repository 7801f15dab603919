//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kuberunner/kuberunner/executor/jobpod"
)

// checkJobPodSecurity: no container of any job pod is privileged or has a capability added;
// all run as non-root; all but the BuildKit daemon forbid privilege escalation (its
// newuidmap needs file capabilities: buildkit/FINDINGS.md); no pod mounts its service
// account's token.
func checkJobPodSecurity(t *testing.T, r localRun) {
	t.Helper()
	if len(r.pods) == 0 {
		t.Fatal("no job pod was seen")
	}
	for _, p := range r.pods {
		if p.Spec.AutomountServiceAccountToken == nil || *p.Spec.AutomountServiceAccountToken {
			t.Errorf("pod %s mounts its service account token", p.Name)
		}
		for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
			sc := c.SecurityContext
			where := p.Name + "/" + c.Name
			if sc == nil {
				t.Errorf("%s: no security context", where)
				continue
			}
			if sc.Privileged != nil && *sc.Privileged {
				t.Errorf("%s: privileged", where)
			}
			if sc.Capabilities != nil && len(sc.Capabilities.Add) > 0 {
				t.Errorf("%s: adds capabilities %v", where, sc.Capabilities.Add)
			}
			if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
				t.Errorf("%s: may run as root", where)
			}
			escalates := sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation
			if escalates && c.Name != "buildkitd" {
				t.Errorf("%s: allows privilege escalation", where)
			}
			if c.Name == "buildkitd" && (sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeLocalhost) {
				t.Errorf("%s: seccomp %v, want the Localhost profile", where, sc.SeccompProfile)
			}
		}
	}
}

// checkSecretsNowhere: the registry password (the job token, masked) is in no trace, pod
// spec, event or line of the runner's log.
func checkSecretsNowhere(t *testing.T, e *imageEnv, r localRun) {
	t.Helper()
	if len(r.tokens) == 0 {
		t.Fatal("no job got CI_REGISTRY_PASSWORD")
	}
	specs, err := json.Marshal(r.pods)
	if err != nil {
		t.Fatal(err)
	}
	events, err := e.client.CoreV1().Events(e.jobsNS).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventsJSON, _ := json.Marshal(events)
	for _, tok := range r.tokens {
		for what, text := range map[string]string{
			"the traces": r.out, "the runner's log": r.log, "the pod specs": string(specs), "the events": string(eventsJSON),
		} {
			if strings.Contains(text, tok) {
				t.Errorf("the registry password appears in %s", what)
			}
		}
	}
	if !strings.Contains(r.out, "[MASKED]") && !strings.Contains(r.out, "pushed ") {
		t.Errorf("the build pushed nothing: the password was never used")
	}
}

// checkNoDeployAccessLeft: no ServiceAccount or RoleBinding of a job remains in the deploy
// namespace (and so no token of theirs is valid).
func checkNoDeployAccessLeft(t *testing.T, e *imageEnv) {
	t.Helper()
	sel := metav1.ListOptions{LabelSelector: labels.Set{jobpod.LabelManagedBy: jobpod.ManagedBy}.String()}
	sas, err := e.client.CoreV1().ServiceAccounts(e.deployNS).List(context.Background(), sel)
	if err != nil {
		t.Fatal(err)
	}
	rbs, err := e.client.RbacV1().RoleBindings(e.deployNS).List(context.Background(), sel)
	if err != nil {
		t.Fatal(err)
	}
	if len(sas.Items)+len(rbs.Items) > 0 {
		t.Errorf("left in %s: %d service accounts, %d role bindings", e.deployNS, len(sas.Items), len(rbs.Items))
	}
}
