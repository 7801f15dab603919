package manifests

import (
	"fmt"
	"slices"
	"sync"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/component-helpers/auth/rbac/validation"
)

// Allowed reports whether rules grant verb on resource in apiGroup ("" for the core
// group), with RBAC's semantics: resource is "pods" or, for a subresource, "pods/log";
// name is the object's name, "" for requests that have none (create, list, watch).
// It uses the API server's own rule comparison, wildcards and resourceNames included.
func Allowed(rules []rbacv1.PolicyRule, verb, apiGroup, resource, name string) bool {
	req := rbacv1.PolicyRule{Verbs: []string{verb}, APIGroups: []string{apiGroup}, Resources: []string{resource}}
	if name != "" {
		req.ResourceNames = []string{name}
	}
	ok, _ := validation.Covers(rules, []rbacv1.PolicyRule{req})
	return ok
}

// Enforcer makes a fake clientset (k8s.io/client-go/kubernetes/fake) answer like an API
// server that grants its client one Role and nothing else: a request outside the Role's
// namespace or rules fails with Forbidden, so a unit test shows that code needs no more
// than the Role. It is safe for concurrent use.
type Enforcer struct {
	role   *rbacv1.Role
	mu     sync.Mutex
	denied []string
}

// NewEnforcer returns an Enforcer granting role.
func NewEnforcer(role *rbacv1.Role) *Enforcer { return &Enforcer{role: role} }

// Install puts e in front of every reactor of f, for requests and for watches.
func (e *Enforcer) Install(f *clienttesting.Fake) {
	f.PrependReactor("*", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if err := e.check(a); err != nil {
			return true, nil, err
		}
		return false, nil, nil
	})
	f.PrependWatchReactor("*", func(a clienttesting.Action) (bool, watch.Interface, error) {
		if err := e.check(a); err != nil {
			return true, nil, err
		}
		return false, nil, nil
	})
}

// Denied lists the requests refused so far, as "verb resource namespace/name". Check it
// as well as the errors: code under test may handle a Forbidden error quietly (a cleanup
// that only logs), and the test should still fail.
func (e *Enforcer) Denied() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.denied)
}

func (e *Enforcer) check(a clienttesting.Action) error {
	verb := a.GetVerb()
	if verb == "delete-collection" { // the fake's spelling of RBAC's verb
		verb = "deletecollection"
	}
	gvr := a.GetResource()
	resource := gvr.Resource
	if sub := a.GetSubresource(); sub != "" {
		resource += "/" + sub
	}
	name := actionName(a)
	if a.GetNamespace() == e.role.Namespace && Allowed(e.role.Rules, verb, gvr.Group, resource, name) {
		return nil
	}
	e.mu.Lock()
	e.denied = append(e.denied, fmt.Sprintf("%s %s %s/%s", verb, resource, a.GetNamespace(), name))
	e.mu.Unlock()
	return apierrors.NewForbidden(schema.GroupResource{Group: gvr.Group, Resource: resource}, name,
		fmt.Errorf("Role %s/%s does not grant %s", e.role.Namespace, e.role.Name, verb))
}

// actionName is the name RBAC sees: none for create (but the parent's for a subresource
// such as pods/exec), list and watch. The fake's GetLogs does not pass the pod's name, so a
// Role restricted by resourceNames cannot be checked for pods/log here.
func actionName(a clienttesting.Action) string {
	switch a.GetVerb() {
	case "create":
		if c, ok := a.(clienttesting.CreateActionImpl); ok && c.GetSubresource() != "" {
			return c.Name
		}
		return ""
	case "list", "watch", "delete-collection":
		return ""
	case "update":
		if u, ok := a.(clienttesting.UpdateAction); ok {
			if m, err := meta.Accessor(u.GetObject()); err == nil {
				return m.GetName()
			}
		}
		return ""
	}
	if n, ok := a.(interface{ GetName() string }); ok {
		return n.GetName()
	}
	return ""
}
