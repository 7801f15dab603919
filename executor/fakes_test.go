package executor

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kuberunner/kuberunner/executor/jobpod"
)

// stampedLine is one log line as the kubelet serves it with timestamps.
type stampedLine struct {
	at   time.Time
	text string
}

var base = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeLogs serves a container's whole log, as the kubelet does for a service's last lines.
type fakeLogs struct {
	mu    sync.Mutex
	lines map[string][]stampedLine
}

func (f *fakeLogs) Stream(_ context.Context, _, _ string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	for _, l := range f.lines[opts.Container] {
		if opts.Timestamps {
			b.WriteString(l.at.Format(time.RFC3339Nano) + " ")
		}
		b.WriteString(l.text)
	}
	return io.NopCloser(strings.NewReader(b.String())), nil
}

// fakeHandover is a runner's job log that records what the executor did with the trace.
type fakeHandover struct {
	mu       sync.Mutex
	log      strings.Builder
	handed   bool
	resumed  *jobpod.ShipperState
	known    bool
	reported *jobpod.ShipperState
}

// handedAt is where the fake runner's part of the trace ends.
const handedAt = 1234

func (f *fakeHandover) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.log.Write(p)
}

func (f *fakeHandover) Handover(context.Context) (jobpod.Trace, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handed = true
	return jobpod.Trace{Offset: handedAt, CRC: 7, MaxLag: 1 << 20}, nil
}

func (f *fakeHandover) Resume(_ context.Context, st jobpod.ShipperState, known bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resumed, f.known = &st, known
	return nil
}

func (f *fakeHandover) Reported(st jobpod.ShipperState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reported = &st
}

func (f *fakeHandover) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.log.String()
}

// restartedShipper is a shipper that exited after delivering st and runs again.
func restartedShipper(st jobpod.ShipperState) corev1.ContainerStatus {
	cs := shipperEnded(st)
	cs.LastTerminationState, cs.State = cs.State, corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	cs.RestartCount = 1
	return cs
}

// shipperEnded is the shipper's terminated status with st as its termination message.
func shipperEnded(st jobpod.ShipperState) corev1.ContainerStatus {
	b, _ := json.Marshal(st)
	return terminatedStatus(jobpod.ShipperContainer, 0, "Completed", string(b))
}

// newFakeAPI is the fake clientset with objects, answering as the API server where the
// executor depends on it.
func newFakeAPI(t testing.TB, objects ...runtime.Object) *fake.Clientset {
	client := recorded(t, fake.NewClientset(objects...))
	// A graceful delete only marks the pod, as the API server does while the kubelet stops it.
	client.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		d := a.(k8stesting.DeleteAction)
		if g := d.GetDeleteOptions().GracePeriodSeconds; g == nil || *g == 0 {
			return false, nil, nil
		}
		obj, err := client.Tracker().Get(a.GetResource(), a.GetNamespace(), d.GetName())
		if err != nil {
			return true, nil, err
		}
		pod := obj.(*corev1.Pod).DeepCopy()
		pod.DeletionTimestamp = &metav1.Time{Time: time.Now()}
		return true, nil, client.Tracker().Update(a.GetResource(), pod, a.GetNamespace())
	})
	strictLeases(client)
	return client
}

// strictLeases makes the fake API check a Lease's resourceVersion on update and delete, as
// the API server does, and bump it on every write: the tracker alone lets every writer win,
// so replicas racing for a Lease would all think they hold it.
func strictLeases(client *fake.Clientset) {
	var version int64
	next := func(l *coordinationv1.Lease) {
		version++
		l.ResourceVersion = strconv.FormatInt(version, 10)
	}
	current := func(a k8stesting.Action, name string) (*coordinationv1.Lease, error) {
		obj, err := client.Tracker().Get(a.GetResource(), a.GetNamespace(), name)
		if err != nil {
			return nil, err
		}
		return obj.(*coordinationv1.Lease), nil
	}
	conflict := func(name string) error {
		return apierrors.NewConflict(coordinationv1.Resource("leases"), name, errors.New("the object has been modified"))
	}
	client.PrependReactor("create", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		l := a.(k8stesting.CreateAction).GetObject().(*coordinationv1.Lease).DeepCopy()
		next(l)
		return true, l, client.Tracker().Create(a.GetResource(), l, a.GetNamespace())
	})
	client.PrependReactor("update", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		l := a.(k8stesting.UpdateAction).GetObject().(*coordinationv1.Lease).DeepCopy()
		cur, err := current(a, l.Name)
		if err != nil {
			return true, nil, err
		}
		if l.ResourceVersion != cur.ResourceVersion {
			return true, nil, conflict(l.Name)
		}
		next(l)
		return true, l, client.Tracker().Update(a.GetResource(), l, a.GetNamespace())
	})
	client.PrependReactor("delete", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		d := a.(k8stesting.DeleteAction)
		cur, err := current(a, d.GetName())
		if err != nil {
			return true, nil, err
		}
		if p := d.GetDeleteOptions().Preconditions; p != nil && p.ResourceVersion != nil && *p.ResourceVersion != cur.ResourceVersion {
			return true, nil, conflict(d.GetName())
		}
		return true, nil, client.Tracker().Delete(a.GetResource(), a.GetNamespace(), d.GetName())
	})
}
