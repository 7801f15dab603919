package manifests_test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kuberunner/kuberunner/manifests"
)

func baseObjects(t *testing.T) []runtime.Object {
	t.Helper()
	objs, err := manifests.Base()
	if err != nil {
		t.Fatalf("decode base: %v", err)
	}
	return objs
}

// only returns the one object of type T among objs.
func only[T runtime.Object](t *testing.T, objs []runtime.Object) T {
	t.Helper()
	var found []T
	for _, o := range objs {
		if v, ok := o.(T); ok {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("%d objects of type %T, want exactly one", len(found), zero)
	}
	return found[0]
}

func baseDeployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	return only[*appsv1.Deployment](t, baseObjects(t))
}

// kustomize renders dir with `kubectl kustomize`, which this repository's machines and CI have.
func kustomize(t *testing.T, dir string) []runtime.Object {
	t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatalf("kubectl is needed to render the kustomizations and is not on PATH: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectl, "kustomize", dir)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr)
	}
	objs, err := manifests.Decode(out)
	if err != nil {
		t.Fatalf("decode the output of kubectl kustomize %s: %v", dir, err)
	}
	return objs
}
