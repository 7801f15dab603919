//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/jobspec"
)

const cacheClaim = "kr-cache"

// TestExecutorCacheRestored: a job saves vendor/ under a cache key, and a second job with
// the same key finds it, through a claim on a hostPath volume set up as an operator would.
func TestExecutorCacheRestored(t *testing.T) {
	s := newExecStack(t, func(c *config.Config) { c.Runners[0].Kubernetes.CacheClaim = cacheClaim })
	dir := s.cacheVolume(t, cacheClaim)

	const content = "dependency-from-job-one"
	cacheSpec := func(p jobspec.CachePolicy) []jobspec.Cache {
		return []jobspec.Cache{{Key: "K", Paths: []string{"vendor/"}, Policy: p, When: jobspec.WhenOnSuccess}}
	}
	run := func(name string, policy jobspec.CachePolicy, script string) string {
		t.Helper()
		job := s.job(name, script)
		job.Image.Name = s.images.Busybox
		job.Cache = cacheSpec(policy)
		id := s.srv.Enqueue(job, nil)
		rec := s.finish(t, id, 2*time.Minute)
		if rec.Status != coordinator.StatusSuccess {
			t.Fatalf("%s: want success, got %s %s\ntrace:\n%s", name, rec.Status, rec.FailureReason, rec.Trace)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		waitNoJobObjects(ctx, t, s, id)
		return string(rec.Trace)
	}

	trace := run("cache-push", jobspec.CachePullPush, "mkdir -p vendor && echo "+content+" > vendor/dep.txt")
	for _, want := range []string{`No cache found for "K"`, `Saved cache "K" (`} {
		if !strings.Contains(trace, want) {
			t.Errorf("first job's trace lacks %q:\n%s", want, trace)
		}
	}
	// The store keeps one archive per project-scoped key on the volume.
	archive := filepath.Join(dir, "project-1%2FK.zip")
	if _, err := os.Stat(archive); err != nil {
		t.Errorf("cache archive not on the volume: %v", err)
	}

	trace = run("cache-pull", jobspec.CachePull, "cat vendor/dep.txt")
	for _, want := range []string{"Restoring cache", `Restored cache "K" (`, "\n" + content + "\n"} {
		if !strings.Contains(trace, want) {
			t.Errorf("second job's trace lacks %q:\n%s", want, trace)
		}
	}
	if strings.Contains(trace, "Saved cache") {
		t.Errorf("a pull-only cache was saved:\n%s", trace)
	}
}

// cacheVolume makes the claim the runner's cache_claim names: a hostPath PersistentVolume
// bound in advance to a claim in the test namespace. The folder is world-writable, as a
// cache shared by job images running as any user must be. It returns the folder.
func (s *execStack) cacheVolume(t *testing.T, claim string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "cache")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	// t.TempDir's own folder is private; the pods' users must get through it.
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	size := corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}
	modes := []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	noClass := ""
	pv, err := s.client.CoreV1().PersistentVolumes().Create(ctx, &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: s.ns + "-cache", Labels: map[string]string{"kuberunner.dev/e2e": "true"}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      size,
			AccessModes:                   modes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              noClass,
			ClaimRef:                      &corev1.ObjectReference{Namespace: s.ns, Name: claim},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: ptrTo(corev1.HostPathDirectory)},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create cache volume: %v", err)
	}
	t.Cleanup(func() {
		if err := s.client.CoreV1().PersistentVolumes().Delete(context.Background(), pv.Name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete cache volume %s: %v", pv.Name, err)
		}
	})
	_, err = s.client.CoreV1().PersistentVolumeClaims(s.ns).Create(ctx, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: claim},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      modes,
			StorageClassName: &noClass,
			VolumeName:       pv.Name,
			Resources:        corev1.VolumeResourceRequirements{Requests: size},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create cache claim: %v", err)
	}

	// A pod on an unbound claim waits for the binder; wait here so the jobs do not.
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	lw := cache.NewListWatchFromClient(s.client.CoreV1().RESTClient(), "persistentvolumeclaims", s.ns, fields.OneTermEqualSelector("metadata.name", claim))
	_, err = watchtools.UntilWithSync(wctx, lw, &corev1.PersistentVolumeClaim{}, nil, func(ev watch.Event) (bool, error) {
		pvc, ok := ev.Object.(*corev1.PersistentVolumeClaim)
		return ok && pvc.Status.Phase == corev1.ClaimBound, nil
	})
	if err != nil {
		t.Fatalf("cache claim %s not bound: %v", claim, err)
	}
	t.Logf("cache claim bound after %s", time.Since(start).Round(time.Millisecond))
	return dir
}

func ptrTo[T any](v T) *T { return &v }
