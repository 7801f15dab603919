package manifests_test

import (
	"fmt"
	"io/fs"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/kuberunner/kuberunner/manifests"
)

func TestBaseDecodes(t *testing.T) {
	var got []string
	for _, o := range baseObjects(t) {
		m, err := meta.Accessor(o)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%T %s/%s", o, m.GetNamespace(), m.GetName()))
	}
	want := []string{
		"*v1.Namespace /kuberunner",
		"*v1.Namespace /kuberunner-jobs",
		"*v1.ServiceAccount kuberunner/kuberunner",
		"*v1.Role kuberunner-jobs/kuberunner",
		"*v1.RoleBinding kuberunner-jobs/kuberunner",
		"*v1.Deployment kuberunner/kuberunner",
		"*v1.Service kuberunner/kuberunner",
		"*v1.NetworkPolicy kuberunner-jobs/kuberunner-jobs",
		"*v1.NetworkPolicy kuberunner/kuberunner",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("objects of base (-want +got):\n%s", diff)
	}
}

func TestKustomizationListsEveryFile(t *testing.T) {
	k, err := manifests.ReadKustomization(manifests.BaseDir)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := fs.ReadDir(manifests.FS, manifests.BaseDir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if e.Name() != "kustomization.yaml" {
			files = append(files, e.Name())
		}
	}
	got := slices.Sorted(slices.Values(k.Resources))
	if diff := cmp.Diff(files, got); diff != "" {
		t.Errorf("base/kustomization.yaml resources against the files in base/ (-files +resources):\n%s", diff)
	}
}

func TestDecodeRefusesUnknownFields(t *testing.T) {
	tests := []struct {
		name string
		yaml string
	}{
		{"misspelt field", `
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: c
      securityContext: {readOnlyRootFileSystem: true}
`},
		{"unknown kind", "apiVersion: v1\nkind: Pood\nmetadata: {name: p}\n"},
		{"second document bad", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {nam: b}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if objs, err := manifests.Decode([]byte(tt.yaml)); err == nil {
				t.Errorf("Decode = %d objects, want an error", len(objs))
			}
		})
	}
}

func TestDecodeSkipsCommentOnlyDocuments(t *testing.T) {
	objs, err := manifests.Decode([]byte("# heading\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n# trailer\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 {
		t.Errorf("Decode = %d objects, want 1", len(objs))
	}
}
