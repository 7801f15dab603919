package manifests_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/manifests"
)

const (
	runnerNS = "kuberunner"
	jobsNS   = "kuberunner-jobs"
)

// TestJobsHaveTheirOwnNamespace: the rendered base keeps the runner (and the config Secret
// its Deployment mounts) in one namespace and the jobs, with the runner's rights over
// them, in another, so a job pod cannot mount the runner token and the runner's rights
// reach no Secret but job Secrets.
func TestJobsHaveTheirOwnNamespace(t *testing.T) {
	objs := kustomize(t, "base")
	where := map[string]string{}
	var namespaces []string
	for _, o := range objs {
		m, err := meta.Accessor(o)
		if err != nil {
			t.Fatal(err)
		}
		switch o.(type) {
		case *corev1.Namespace:
			namespaces = append(namespaces, m.GetName())
		case *appsv1.Deployment, *corev1.ServiceAccount, *corev1.Service, *rbacv1.Role, *rbacv1.RoleBinding:
			where[o.GetObjectKind().GroupVersionKind().Kind] = m.GetNamespace()
		}
	}
	if diff := cmp.Diff([]string{runnerNS, jobsNS}, namespaces); diff != "" {
		t.Errorf("Namespaces (-want +got):\n%s", diff)
	}
	want := map[string]string{"Deployment": runnerNS, "ServiceAccount": runnerNS, "Service": runnerNS,
		"Role": jobsNS, "RoleBinding": jobsNS}
	if diff := cmp.Diff(want, where); diff != "" {
		t.Errorf("namespace of each object (-want +got):\n%s", diff)
	}
	rb := only[*rbacv1.RoleBinding](t, objs)
	wantSubjects := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "kuberunner", Namespace: runnerNS}}
	if diff := cmp.Diff(wantSubjects, rb.Subjects); diff != "" {
		t.Errorf("RoleBinding subjects (-want +got):\n%s", diff)
	}
}

// TestNoSecretRightsBesideTheConfig: no Role in the runner's namespace grants anything on
// Secrets; the runner reads its configuration from the mounted Secret, not the API.
func TestNoSecretRightsBesideTheConfig(t *testing.T) {
	objs := kustomize(t, "base")
	ns := only[*appsv1.Deployment](t, objs).Namespace
	for _, o := range objs {
		r, ok := o.(*rbacv1.Role)
		if !ok || r.Namespace != ns {
			continue
		}
		for _, verb := range []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"} {
			if manifests.Allowed(r.Rules, verb, "", "secrets", "") {
				t.Errorf("Role %s/%s grants %s secrets beside the runner's config Secret", r.Namespace, r.Name, verb)
			}
		}
	}
}

// TestExampleConfigOffersHardened: the hardened profile config.example.yaml shows commented
// out loads once uncommented, and is not the default.
func TestExampleConfigOffersHardened(t *testing.T) {
	data, err := manifests.FS.ReadFile("config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	on := strings.NewReplacer("# security_context:", "security_context:", "#   profile: hardened", "  profile: hardened").Replace(string(data))
	for _, tt := range []struct {
		name, yaml, want string
	}{{"as shipped", string(data), config.ProfileDefault}, {"uncommented", on, config.ProfileHardened}} {
		cfg, err := config.Parse("config.example.yaml", []byte(tt.yaml))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := cfg.Runners[0].Kubernetes.SecurityContext.Profile; got != tt.want {
			t.Errorf("%s: security profile %q, want %q", tt.name, got, tt.want)
		}
	}
}
