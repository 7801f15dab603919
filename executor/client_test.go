package executor

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// The pod cache keeps no managed fields, and passes a deletion's tombstone through.
func TestPodCacheDropsManagedFields(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}}}
	got, err := withoutManagedFields(pod)
	if err != nil || got.(*corev1.Pod).ManagedFields != nil || got.(*corev1.Pod).Name != "p" {
		t.Errorf("transform = %v, %v; want the pod without managed fields", got, err)
	}
	tomb := cache.DeletedFinalStateUnknown{Key: "ns/p"}
	if got, err := withoutManagedFields(tomb); err != nil || got != tomb {
		t.Errorf("tombstone = %v, %v; want it unchanged", got, err)
	}
}
