//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/kuberunner/kuberunner/e2e/e2eutil"
	"github.com/kuberunner/kuberunner/executor/jobpod"
)

// The fake nodes' label and taint: only pods that tolerate it (the scale benchmark's job
// pods) are scheduled there, and nothing else on the cluster notices them.
const fakeNodeKey = "kuberunner.dev/fake-node"

// fakeKubelet plays the kubelet of a few simulated nodes through the real API server, as
// kwok does (kwok's module does not resolve from this machine's proxy): the scheduler
// binds job pods to the nodes, and fakeKubelet moves each to Running and, once released,
// to Succeeded with the shipper's termination message saying the whole (empty) output was
// delivered, so the runner reports the job as it does a real one. No container runs.
type fakeKubelet struct {
	client kubernetes.Interface // its own, with a rate limit a real kubelet fleet would not feel
	ns     string
	nodes  []string

	mu       sync.Mutex
	started  map[string]bool        // pods fakeKubelet took on
	running  map[string]*corev1.Pod // name -> pod moved to Running and not yet released
	released bool
	changed  chan struct{} // closed and replaced when running changes
}

// startFakeKubelet registers n fake nodes, keeps their leases fresh and drives the pods bound
// to them in ns until the test ends, then removes the nodes.
func startFakeKubelet(b *testing.B, ns string, n int) *fakeKubelet {
	b.Helper()
	cfg, err := e2eutil.RESTConfig()
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 500, 1000
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	fk := &fakeKubelet{client: client, ns: ns, started: map[string]bool{}, running: map[string]*corev1.Pod{}, changed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	for i := range n {
		fk.nodes = append(fk.nodes, fmt.Sprintf("kr-fake-%s-%d", ns, i))
	}
	b.Cleanup(func() {
		cancel()
		for _, name := range fk.nodes {
			_ = client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(context.Background(), name, metav1.DeleteOptions{})
			_ = client.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{})
		}
		// No kubelet will confirm a graceful delete of what is left there.
		pods, _ := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		for _, p := range pods.Items {
			_ = client.CoreV1().Pods(ns).Delete(context.Background(), p.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
		}
	})
	for _, name := range fk.nodes {
		if err := fk.registerNode(ctx, name); err != nil {
			b.Fatalf("register fake node %s: %v", name, err)
		}
	}
	go fk.heartbeat(ctx)
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns))
	inf := factory.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { fk.observe(ctx, obj) },
		UpdateFunc: func(_, obj any) { fk.observe(ctx, obj) },
	}); err != nil {
		b.Fatal(err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return fk
}

func (fk *fakeKubelet) registerNode(ctx context.Context, name string) error {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("1000"),
		corev1.ResourceMemory: resource.MustParse("4Ti"),
		corev1.ResourcePods:   resource.MustParse("1000"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{fakeNodeKey: "true", corev1.LabelHostname: name}},
		Spec:       corev1.NodeSpec{Taints: []corev1.Taint{{Key: fakeNodeKey, Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
	}
	created, err := fk.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	now := metav1.Now()
	status := corev1.NodeStatus{
		Capacity: capacity, Allocatable: capacity,
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			LastHeartbeatTime: now, LastTransitionTime: now}},
		Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.0.2.1"}},
	}
	for { // the node controller writes the new node too
		created.Status = status
		_, err = fk.client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			return err
		}
		if created, err = fk.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); err != nil {
			return err
		}
	}
}

// heartbeat renews the nodes' leases, as a kubelet does every 10 s, so that the node
// lifecycle controller never taints them unreachable and evicts the pods.
func (fk *fakeKubelet) heartbeat(ctx context.Context) {
	leases := fk.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	for {
		for _, name := range fk.nodes {
			now := metav1.NewMicroTime(time.Now())
			l, err := leases.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: corev1.NamespaceNodeLease},
					Spec: coordinationv1.LeaseSpec{HolderIdentity: new(name), LeaseDurationSeconds: new(int32(40))}}
				l.Spec.RenewTime = &now
				_, _ = leases.Create(ctx, l, metav1.CreateOptions{})
				continue
			}
			l.Spec.RenewTime = &now
			_, _ = leases.Update(ctx, l, metav1.UpdateOptions{})
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Second):
		}
	}
}

// observe starts a pod bound to a fake node, or ends it when the jobs are released.
func (fk *fakeKubelet) observe(ctx context.Context, obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" || pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodPending || !slices.Contains(fk.nodes, pod.Spec.NodeName) {
		return
	}
	fk.mu.Lock()
	taken := fk.started[pod.Name]
	fk.started[pod.Name] = true
	fk.mu.Unlock()
	if taken {
		return
	}
	go func() {
		running, err := fk.setRunning(ctx, pod)
		if err != nil {
			return // the pod is gone, or the benchmark is over
		}
		fk.mu.Lock()
		fk.running[pod.Name] = running
		released := fk.released
		fk.notifyLocked()
		fk.mu.Unlock()
		if released {
			fk.finish(ctx, running)
		}
	}()
}

// setRunning retries on a conflict: the scheduler may still be writing the pod's conditions.
func (fk *fakeKubelet) setRunning(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, error) {
	for {
		running, err := fk.client.CoreV1().Pods(fk.ns).UpdateStatus(ctx, runningStatus(pod), metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			return running, err
		}
		if pod, err = fk.client.CoreV1().Pods(fk.ns).Get(ctx, pod.Name, metav1.GetOptions{}); err != nil {
			return nil, err
		}
	}
}

func runningStatus(pod *corev1.Pod) *corev1.Pod {
	now := metav1.Now()
	p := pod.DeepCopy()
	p.Status.Phase = corev1.PodRunning
	p.Status.StartTime = &now
	p.Status.PodIP = "192.0.2.2"
	p.Status.Conditions = append(p.Status.Conditions,
		corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
		corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now})
	p.Status.InitContainerStatuses = statuses(p.Spec.InitContainers, func(c corev1.Container) corev1.ContainerState {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}
		}
		return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed", StartedAt: now, FinishedAt: now}}
	})
	p.Status.ContainerStatuses = statuses(p.Spec.Containers, func(corev1.Container) corev1.ContainerState {
		return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}
	})
	return p
}

// finish ends a running pod as a job pod whose script succeeded and whose shipper delivered
// everything: its termination message carries the trace offset the runner handed over.
func (fk *fakeKubelet) finish(ctx context.Context, pod *corev1.Pod) {
	var handed jobpod.Trace
	for _, v := range pod.Spec.Volumes {
		if v.Secret == nil {
			continue
		}
		if s, err := fk.client.CoreV1().Secrets(fk.ns).Get(ctx, v.Secret.SecretName, metav1.GetOptions{}); err == nil {
			var c jobpod.Config
			if json.Unmarshal(s.Data[jobpod.ConfigFile], &c) == nil && c.Trace != nil {
				handed = *c.Trace
			}
		}
	}
	msg, _ := json.Marshal(jobpod.ShipperState{Offset: handed.Offset, CRC: handed.CRC, Complete: true})
	now := metav1.Now()
	done := func(c corev1.Container) corev1.ContainerState {
		t := &corev1.ContainerStateTerminated{Reason: "Completed", StartedAt: now, FinishedAt: now}
		if c.Name == jobpod.ShipperContainer {
			t.Message = string(msg)
		}
		return corev1.ContainerState{Terminated: t}
	}
	p := pod.DeepCopy()
	p.Status.Phase = corev1.PodSucceeded
	p.Status.InitContainerStatuses = statuses(p.Spec.InitContainers, done)
	p.Status.ContainerStatuses = statuses(p.Spec.Containers, done)
	for range 5 { // a conflict: someone wrote the pod since it was read
		if _, err := fk.client.CoreV1().Pods(fk.ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
			break
		}
		fresh, err := fk.client.CoreV1().Pods(fk.ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return
		}
		fresh.Status = p.Status
		p = fresh
	}
	fk.mu.Lock()
	delete(fk.running, pod.Name)
	fk.notifyLocked()
	fk.mu.Unlock()
}

func statuses(cs []corev1.Container, state func(corev1.Container) corev1.ContainerState) []corev1.ContainerStatus {
	out := make([]corev1.ContainerStatus, 0, len(cs))
	for _, c := range cs {
		st := state(c)
		out = append(out, corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: c.Image, State: st,
			Ready: st.Running != nil, Started: new(st.Running != nil)})
	}
	return out
}

// waitRunning waits until n pods run, and returns how many do when ctx ends first.
func (fk *fakeKubelet) waitRunning(ctx context.Context, n int) int {
	for {
		fk.mu.Lock()
		got, changed := len(fk.running), fk.changed
		fk.mu.Unlock()
		if got >= n {
			return got
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return got
		}
	}
}

// release ends every running pod, and every pod that starts from now on.
func (fk *fakeKubelet) release(ctx context.Context) {
	fk.mu.Lock()
	fk.released = true
	pods := make([]*corev1.Pod, 0, len(fk.running))
	for _, p := range fk.running {
		pods = append(pods, p)
	}
	fk.mu.Unlock()
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for _, p := range pods {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fk.finish(ctx, p)
		})
	}
	wg.Wait()
}

// hold makes pods that start from now on wait for the next release.
func (fk *fakeKubelet) hold() {
	fk.mu.Lock()
	fk.released = false
	fk.mu.Unlock()
}

func (fk *fakeKubelet) notifyLocked() {
	close(fk.changed)
	fk.changed = make(chan struct{})
}
