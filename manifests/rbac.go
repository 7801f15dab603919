package manifests

import (
	"fmt"
	"slices"
	"strings"
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
// server that grants its client some Roles and nothing else: a request outside the Roles'
// namespaces or rules fails with Forbidden, so a unit test shows that code needs no more
// than the Roles. Like the API server, it lets a RoleBinding be created only if the client
// may `bind` the role it refers to (the client's holding every right of that role, the
// other way the API server accepts, is not modelled). It is safe for concurrent use.
type Enforcer struct {
	roles  []*rbacv1.Role
	mu     sync.Mutex
	denied []string
}

// NewEnforcer returns an Enforcer granting roles, each in its own namespace.
func NewEnforcer(roles ...*rbacv1.Role) *Enforcer { return &Enforcer{roles: roles} }

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
	if !e.allowed(a.GetNamespace(), verb, gvr.Group, resource, name) {
		return e.deny(a.GetNamespace(), verb, gvr.Group, resource, name)
	}
	if ca, ok := a.(clienttesting.CreateAction); ok && verb == "create" && resource == "rolebindings" {
		if rb, ok := ca.GetObject().(*rbacv1.RoleBinding); ok {
			kind := strings.ToLower(rb.RoleRef.Kind) + "s"
			if !e.allowed(a.GetNamespace(), "bind", rbacv1.GroupName, kind, rb.RoleRef.Name) {
				return e.deny(a.GetNamespace(), "bind", rbacv1.GroupName, kind, rb.RoleRef.Name)
			}
		}
	}
	return nil
}

func (e *Enforcer) allowed(namespace, verb, group, resource, name string) bool {
	for _, r := range e.roles {
		if namespace == r.Namespace && Allowed(r.Rules, verb, group, resource, name) {
			return true
		}
	}
	return false
}

func (e *Enforcer) deny(namespace, verb, group, resource, name string) error {
	e.mu.Lock()
	e.denied = append(e.denied, fmt.Sprintf("%s %s %s/%s", verb, resource, namespace, name))
	e.mu.Unlock()
	return apierrors.NewForbidden(schema.GroupResource{Group: group, Resource: resource}, name,
		fmt.Errorf("no Role in namespace %q grants %s", namespace, verb))
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
