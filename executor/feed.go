package executor

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"
)

// podFeeds hands the informer's view of each job pod to the Run that waits on it. A Run
// subscribes before it creates its pod, so no event is missed; events of pods nobody
// subscribed to (another replica's, a sweep's) are dropped.
type podFeeds struct {
	mu    sync.Mutex
	feeds map[string]*podFeed
}

// podFeed is the latest state of one pod. changed is closed at every change and replaced,
// so any number of goroutines can wait for "something happened" without polling.
type podFeed struct {
	mu      sync.Mutex
	pod     *corev1.Pod
	gone    bool
	changed chan struct{}
}

func newPodFeeds() *podFeeds { return &podFeeds{feeds: map[string]*podFeed{}} }

func (f *podFeeds) subscribe(name string) *podFeed {
	f.mu.Lock()
	defer f.mu.Unlock()
	feed := &podFeed{changed: make(chan struct{})}
	f.feeds[name] = feed
	return feed
}

// claim subscribes to a pod nobody follows yet; ok is false when someone does.
func (f *podFeeds) claim(name string) (*podFeed, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, taken := f.feeds[name]; taken {
		return nil, false
	}
	feed := &podFeed{changed: make(chan struct{})}
	f.feeds[name] = feed
	return feed, true
}

func (f *podFeeds) unsubscribe(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.feeds, name)
}

func (f *podFeeds) get(name string) *podFeed {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.feeds[name]
}

func (f *podFeeds) handler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { f.update(obj) },
		UpdateFunc: func(_, obj any) { f.update(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				if feed := f.get(pod.Name); feed != nil {
					feed.set(pod, true)
				}
			}
		},
	}
}

func (f *podFeeds) update(obj any) {
	if pod, ok := obj.(*corev1.Pod); ok {
		if feed := f.get(pod.Name); feed != nil {
			feed.set(pod, false)
		}
	}
}

func (p *podFeed) set(pod *corev1.Pod, gone bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone {
		return
	}
	p.pod, p.gone = pod, gone
	close(p.changed)
	p.changed = make(chan struct{})
}

// first sets the pod's state unless an event already did: that one is newer.
func (p *podFeed) first(pod *corev1.Pod) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pod != nil || p.gone {
		return
	}
	p.pod = pod
	close(p.changed)
	p.changed = make(chan struct{})
}

// snapshot is the pod as last seen (nil before the first event; informer objects are
// shared: read only), whether it was deleted, and a channel closed at the next change.
func (p *podFeed) snapshot() (pod *corev1.Pod, gone bool, changed <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pod, p.gone, p.changed
}
