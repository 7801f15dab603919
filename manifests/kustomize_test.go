package manifests_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// byID indexes objects by kind, namespace and name, with TypeMeta cleared: the typed
// objects of Base carry none, the rendered ones do.
func byID(t *testing.T, objs []runtime.Object) map[string]runtime.Object {
	t.Helper()
	out := map[string]runtime.Object{}
	for _, o := range objs {
		m, err := meta.Accessor(o)
		if err != nil {
			t.Fatal(err)
		}
		kind := o.GetObjectKind().GroupVersionKind().Kind
		o = o.DeepCopyObject()
		o.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
		out[kind+" "+m.GetNamespace()+"/"+m.GetName()] = o
	}
	return out
}

func TestBaseRendersAsWritten(t *testing.T) {
	if diff := cmp.Diff(byID(t, baseObjects(t)), byID(t, kustomize(t, "base"))); diff != "" {
		t.Errorf("kubectl kustomize base against the files (-files +rendered):\n%s", diff)
	}
}

func TestImageOverride(t *testing.T) {
	base, err := filepath.Abs("base")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rel, err := filepath.Rel(dir, base) // kustomize refuses absolute paths
	if err != nil {
		t.Fatal(err)
	}
	overlay := "resources: [" + rel + "]\nimages:\n  - name: kuberunner\n    newName: registry.example.com/kuberunner\n    newTag: v1.2.3\n"
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(overlay), 0o644); err != nil {
		t.Fatal(err)
	}
	d := only[*appsv1.Deployment](t, kustomize(t, dir))
	if got, want := d.Spec.Template.Spec.Containers[0].Image, "registry.example.com/kuberunner:v1.2.3"; got != want {
		t.Errorf("image = %q, want %q", got, want)
	}
}

// TestOneNamespaceExample: examples/one-namespace, and an overlay over it that moves it to
// another namespace as e2e/replicas_test.go does, put every object into that one namespace,
// the Namespace object included, and bind the Role to the runner's account there.
func TestOneNamespaceExample(t *testing.T) {
	example, err := filepath.Abs("examples/one-namespace")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rel, err := filepath.Rel(dir, example)
	if err != nil {
		t.Fatal(err)
	}
	overlay := "namespace: kr-e2e-x\nresources: [" + rel + "]\n"
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(overlay), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ dir, ns string }{{"examples/one-namespace", "kuberunner"}, {dir, "kr-e2e-x"}} {
		objs := kustomize(t, tt.dir)
		for _, o := range objs {
			m, err := meta.Accessor(o)
			if err != nil {
				t.Fatal(err)
			}
			in := m.GetNamespace()
			if _, ok := o.(*corev1.Namespace); ok {
				in = m.GetName()
			}
			if in != tt.ns {
				t.Errorf("%s renders %T %s in namespace %q, want %s", tt.dir, o, m.GetName(), in, tt.ns)
			}
		}
		ns := only[*corev1.Namespace](t, objs)
		rb := only[*rbacv1.RoleBinding](t, objs)
		type placement struct{ Namespace, Subject, Account string }
		got := placement{ns.Name, rb.Subjects[0].Namespace, rb.Subjects[0].Name}
		want := placement{tt.ns, tt.ns, only[*appsv1.Deployment](t, objs).Spec.Template.Spec.ServiceAccountName}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: placement (-want +got):\n%s", tt.dir, diff)
		}
		if diff := cmp.Diff(role(t).Rules, only[*rbacv1.Role](t, objs).Rules); diff != "" {
			t.Errorf("%s: the Role differs from base/role.yaml beyond its namespace (-base +example):\n%s", tt.dir, diff)
		}
	}
}
