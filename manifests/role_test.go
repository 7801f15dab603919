package manifests_test

import (
	"bufio"
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/component-helpers/auth/rbac/validation"

	"github.com/kuberunner/kuberunner/manifests"
)

func role(t *testing.T) *rbacv1.Role {
	t.Helper()
	r, err := manifests.Role()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// grant is one (verb, resource) pair a Role allows, the resource as RBAC spells it ("pods/log"),
// followed by its API group outside the core group ("leases.coordination.k8s.io").
type grant struct{ Verb, Resource string }

func sortGrants(gs []grant) []grant {
	slices.SortFunc(gs, func(a, b grant) int {
		return strings.Compare(a.Resource+" "+a.Verb, b.Resource+" "+b.Verb)
	})
	return gs
}

// grants breaks rules down to single (verb, resource) pairs, failing on anything that is
// not a plain grant in the core group or coordination.k8s.io (replicas' Leases).
func grants(t *testing.T, rules []rbacv1.PolicyRule) []grant {
	t.Helper()
	var out []grant
	for _, r := range rules {
		if len(r.NonResourceURLs) > 0 || len(r.ResourceNames) > 0 {
			t.Errorf("rule %v: nonResourceURLs or resourceNames; the Role should have neither", r)
		}
		for _, sub := range validation.BreakdownRule(r) {
			res := sub.Resources[0]
			switch g := sub.APIGroups[0]; g {
			case "":
			case "coordination.k8s.io":
				res += "." + g
			default:
				t.Errorf("rule %v: API group %q; the runner only uses the core group and coordination.k8s.io", r, g)
			}
			out = append(out, grant{sub.Verbs[0], res})
		}
	}
	return sortGrants(out)
}

// executorCalls are the requests the executor made in its own unit tests, in scope "jobs"
// (the jobs' namespace) or "deploy" (a deploy job's target namespace), as recorded by its
// fake clientsets (executor/apicalls_test.go). Nothing else in the runner calls the API.
func executorCalls(t *testing.T, scope string) []grant {
	t.Helper()
	data, err := os.ReadFile("../executor/testdata/api-calls.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []grant
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == scope {
			out = append(out, grant{f[1], f[2]})
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s calls in executor/testdata/api-calls.txt", scope)
	}
	return sortGrants(out)
}

// TestRoleGrantsExactlyWhatTheRunnerUses: the Role grants what the executor was seen to
// call in the jobs' namespace, and nothing it was not.
func TestRoleGrantsExactlyWhatTheRunnerUses(t *testing.T) {
	if diff := cmp.Diff(executorCalls(t, "jobs"), grants(t, role(t).Rules)); diff != "" {
		t.Errorf("grants of base/role.yaml (-executor's calls +Role):\n%s", diff)
	}
}

func TestRoleRefusesDangerousAccess(t *testing.T) {
	r := role(t)
	for _, rule := range r.Rules {
		for _, field := range [][]string{rule.Verbs, rule.Resources, rule.APIGroups} {
			for _, v := range field {
				if strings.Contains(v, "*") {
					t.Errorf("rule %v: wildcard %q", rule, v)
				}
			}
		}
	}
	forbidden := []struct{ verb, group, resource string }{
		{"create", "", "pods/exec"},
		{"get", "", "pods/exec"},
		{"create", "", "pods/attach"},
		{"get", "", "pods/attach"},
		{"create", "", "pods/portforward"},
		{"create", "", "pods/eviction"},
		{"patch", "", "pods"},
		{"update", "", "pods"},
		{"update", "", "pods/finalizers"},
		{"get", "", "secrets"},
		{"watch", "", "secrets"},
		{"patch", "", "secrets"},
		{"deletecollection", "", "secrets"},
		{"create", "", "serviceaccounts/token"},
		{"create", "", "events"},
		{"list", "", "events"},
		{"bind", "rbac.authorization.k8s.io", "roles"},
		{"escalate", "rbac.authorization.k8s.io", "roles"},
		{"impersonate", "", "serviceaccounts"},
		{"create", "apps", "deployments"},
		{"watch", "coordination.k8s.io", "leases"},
		{"patch", "coordination.k8s.io", "leases"},
		{"deletecollection", "coordination.k8s.io", "leases"},
	}
	for _, f := range forbidden {
		if manifests.Allowed(r.Rules, f.verb, f.group, f.resource, "") {
			t.Errorf("base/role.yaml allows %s %s (group %q)", f.verb, f.resource, f.group)
		}
	}
}

func TestNoClusterScopedRBAC(t *testing.T) {
	for _, dir := range []string{"base", "examples/one-namespace"} {
		for _, o := range kustomize(t, dir) {
			switch o := o.(type) {
			case *rbacv1.ClusterRole:
				t.Errorf("%s renders ClusterRole %s; the runner needs nothing cluster-scoped", dir, o.Name)
			case *rbacv1.ClusterRoleBinding:
				t.Errorf("%s renders ClusterRoleBinding %s; the runner needs nothing cluster-scoped", dir, o.Name)
			}
		}
	}
}

func TestRoleBindingGrantsTheRoleToTheRunner(t *testing.T) {
	objs := baseObjects(t)
	r := only[*rbacv1.Role](t, objs)
	rb := only[*rbacv1.RoleBinding](t, objs)
	d := only[*appsv1.Deployment](t, objs)
	got := struct {
		Namespace string
		RoleRef   rbacv1.RoleRef
		Subjects  []rbacv1.Subject
	}{rb.Namespace, rb.RoleRef, rb.Subjects}
	want := struct {
		Namespace string
		RoleRef   rbacv1.RoleRef
		Subjects  []rbacv1.Subject
	}{
		Namespace: r.Namespace,
		RoleRef:   rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: r.Name},
		Subjects:  []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: d.Spec.Template.Spec.ServiceAccountName, Namespace: d.Namespace}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RoleBinding (-want +got):\n%s", diff)
	}
}

// TestREADMEListsTheRole keeps the RBAC table operators read in step with the Role.
func TestREADMEListsTheRole(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var table []grant
	in := false
	for sc := bufio.NewScanner(bytes.NewReader(data)); sc.Scan(); {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "| verb | resource | why |":
			in = true
		case in && strings.HasPrefix(line, "| ---"):
		case in && strings.HasPrefix(line, "|"):
			cells := strings.Split(strings.Trim(line, "|"), "|")
			if len(cells) != 3 || strings.TrimSpace(cells[2]) == "" {
				t.Errorf("README RBAC row %q: want verb, resource and why", line)
				continue
			}
			table = append(table, grant{strings.Trim(strings.TrimSpace(cells[0]), "`"), strings.Trim(strings.TrimSpace(cells[1]), "`")})
		default:
			in = false
		}
	}
	if diff := cmp.Diff(grants(t, role(t).Rules), sortGrants(table)); diff != "" {
		t.Errorf("README's RBAC table against base/role.yaml (-role +README):\n%s", diff)
	}
}

// TestDeployRoleGrantsWhatTheExecutorCalls: in a deploy target namespace the Role grants
// the calls the executor was seen to make there, and beyond them only bind (which the API
// server checks when a RoleBinding is created; no request of its own).
func TestDeployRoleGrantsWhatTheExecutorCalls(t *testing.T) {
	var got []grant
	for _, rule := range deployRole(t).Rules {
		for _, sub := range validation.BreakdownRule(rule) {
			if sub.Verbs[0] == "bind" {
				continue
			}
			res := sub.Resources[0]
			if g := sub.APIGroups[0]; g != "" {
				res += "." + g
			}
			got = append(got, grant{sub.Verbs[0], res})
		}
	}
	if diff := cmp.Diff(executorCalls(t, "deploy"), sortGrants(got)); diff != "" {
		t.Errorf("grants of deploy/role.yaml (-executor's calls +Role):\n%s", diff)
	}
}

// TestDeployRoleGrantsExactlyWhatDeploysUse: in a deploy target namespace the runner may
// manage its jobs' ServiceAccounts, tokens and RoleBindings, bind only the named roles,
// and do nothing else: no escalate, no reading or changing the namespace's workloads.
func TestDeployRoleGrantsExactlyWhatDeploysUse(t *testing.T) {
	r := deployRole(t)
	type g struct{ Verb, Group, Resource, Name string }
	var got []g
	for _, rule := range r.Rules {
		for _, sub := range validation.BreakdownRule(rule) {
			name := ""
			if len(sub.ResourceNames) > 0 {
				name = sub.ResourceNames[0]
			}
			got = append(got, g{sub.Verbs[0], sub.APIGroups[0], sub.Resources[0], name})
		}
	}
	want := []g{
		{"create", "", "serviceaccounts", ""}, {"delete", "", "serviceaccounts", ""}, {"list", "", "serviceaccounts", ""},
		{"create", "", "serviceaccounts/token", ""},
		{"create", "rbac.authorization.k8s.io", "rolebindings", ""}, {"delete", "rbac.authorization.k8s.io", "rolebindings", ""},
		{"bind", "rbac.authorization.k8s.io", "clusterroles", "edit"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("grants of deploy/role.yaml (-want +got):\n%s", diff)
	}
	for _, f := range []struct{ verb, group, resource, name string }{
		{"escalate", "rbac.authorization.k8s.io", "clusterroles", "edit"},
		{"bind", "rbac.authorization.k8s.io", "clusterroles", "cluster-admin"},
		{"bind", "rbac.authorization.k8s.io", "roles", ""},
		{"get", "", "secrets", ""},
		{"create", "apps", "deployments", ""},
		{"impersonate", "", "serviceaccounts", ""},
	} {
		if manifests.Allowed(r.Rules, f.verb, f.group, f.resource, f.name) {
			t.Errorf("deploy/role.yaml allows %s %s %s", f.verb, f.resource, f.name)
		}
	}
}
