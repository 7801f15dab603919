//go:build e2e

package e2e

import (
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/coordinator"
)

// livePods counts the job pods that exist, are not being deleted and are Pending or
// Running, and remembers the most there were at once. Informer handlers run one at a time;
// the mutex is for the test goroutine reading the result.
type livePods struct {
	mu   sync.Mutex
	live map[string]bool
	seen map[string]bool
	max  int
}

func (l *livePods) set(obj any, deleted bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj, deleted = d.Obj, true
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen[pod.Name] = true
	phase := pod.Status.Phase
	if deleted || pod.DeletionTimestamp != nil || (phase != corev1.PodPending && phase != corev1.PodRunning) {
		delete(l.live, pod.Name)
		return
	}
	l.live[pod.Name] = true
	l.max = max(l.max, len(l.live))
}

func (l *livePods) handler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { l.set(obj, false) },
		UpdateFunc: func(_, obj any) { l.set(obj, false) },
		DeleteFunc: func(obj any) { l.set(obj, true) },
	}
}

func (l *livePods) result() (maxLive, seen int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.max, len(l.seen)
}

// TestExecutorConcurrencyCap: 20 jobs queued at once with concurrent 5 never have more than
// 5 job pods alive together, and all of them succeed.
func TestExecutorConcurrencyCap(t *testing.T) {
	const jobs, concurrent = 20, 5
	s := newExecStack(t, func(c *config.Config) {
		c.Concurrent = concurrent
		c.Runners[0].RequestConcurrency = concurrent
	})
	pods := &livePods{live: map[string]bool{}, seen: map[string]bool{}}
	s.watchJobObjects(t, pods.handler(), nil)

	start := time.Now()
	ids := make([]int64, jobs)
	for i := range ids {
		job := s.job("short", "sleep 1")
		job.Image.Name = s.images.Busybox
		ids[i] = s.srv.Enqueue(job, nil)
	}
	var failed []int64
	for _, id := range ids {
		if rec := s.finish(t, id, 3*time.Minute); rec.Status != coordinator.StatusSuccess {
			failed = append(failed, id)
			t.Errorf("job %d: want success, got %s %s\ntrace:\n%s", id, rec.Status, rec.FailureReason, rec.Trace)
		}
	}
	t.Logf("%d jobs finished in %s", jobs, time.Since(start).Round(time.Millisecond))

	maxLive, seen := pods.result()
	if maxLive > concurrent {
		t.Errorf("%d job pods were alive at once, want at most %d", maxLive, concurrent)
	}
	// A cap that is never reached would pass the check above without testing anything.
	if maxLive < 2 {
		t.Errorf("at most %d job pod alive at once: the jobs did not run concurrently", maxLive)
	}
	if seen != jobs {
		t.Errorf("saw %d job pods, want %d", seen, jobs)
	}
	t.Logf("at most %d job pods alive at once, %d failed", maxLive, len(failed))
}
