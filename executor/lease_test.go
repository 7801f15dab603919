package executor

import (
	"context"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kuberunner/kuberunner/executor/jobpod"
)

const (
	us    = "kuberunner-7d9f8-aaaaa" // this replica
	other = "kuberunner-7d9f8-bbbbb" // another replica of the same runner
)

func TestLeaseName(t *testing.T) {
	long := strings.Repeat("x", 60)
	tests := []struct {
		runner, identity string
		want             string // "": only a valid, hashed name is wanted
	}{
		{"r1", "kuberunner-7d9f8-aaaaa", "kuberunner-r1-kuberunner-7d9f8-aaaaa"},
		{"k8s runner #1", "pod-a", ""},
		{"r1", long + "a", ""},
	}
	for _, tt := range tests {
		got := LeaseName(tt.runner, tt.identity)
		if errs := validation.IsDNS1123Label(got); len(errs) != 0 {
			t.Errorf("LeaseName(%q, %q) = %q: %v", tt.runner, tt.identity, got, errs)
		}
		if tt.want != "" && got != tt.want {
			t.Errorf("LeaseName(%q, %q) = %q, want %q", tt.runner, tt.identity, got, tt.want)
		}
	}
	// Cut to the same prefix, still two Leases.
	if LeaseName("r1", long+"a") == LeaseName("r1", long+"b") {
		t.Error("two long identities share a Lease")
	}
}

// replicaLease is the Lease of replica identity, renewed at renewed.
func replicaLease(identity string, renewed time.Time) *coordinationv1.Lease {
	labels := RunnerSelector("r1")
	labels[jobpod.LabelManager] = identity
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: LeaseName("r1", identity), Namespace: "ci", Labels: labels},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr(identity), LeaseDurationSeconds: ptr(int32(15)),
			RenewTime: &metav1.MicroTime{Time: renewed}},
	}
}

// newReplica is a harness whose executor is replica us, looking for pods to adopt often.
func newReplica(t *testing.T, objects ...runtime.Object) *harness {
	t.Helper()
	return newHarnessOpts(t, Options{UnschedulableTimeout: time.Minute, Identity: us, AdoptInterval: 10 * time.Millisecond}, objects...)
}

// leaseLists is how many times the executor listed the Leases: one per adoption pass
// that judged another replica's pod.
func (h *harness) leaseLists() int { return h.leaseCalls("list") }

// leaseCalls is how many calls of verb on Leases the fake API answered.
func (h *harness) leaseCalls(verb string) int {
	n := 0
	for _, a := range h.client.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == "leases" {
			n++
		}
	}
	return n
}

// assertNotAdopted waits for three adoption passes that judged pod and checks none took it.
func (h *harness) assertNotAdopted(pod *corev1.Pod, got <-chan adopted) {
	h.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); h.leaseLists() < 3; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			h.t.Fatal("no adoption pass listed the Leases")
		}
	}
	if h.exec.feeds.get(pod.Name) != nil {
		h.t.Fatal("the pod of a live replica was adopted")
	}
	select {
	case a := <-got:
		h.t.Fatalf("the pod of a live replica was adopted: %+v", a.run.res)
	default:
	}
}

// endAdopted ends pod, reported by its shipper, and waits for its adoption to end.
func (h *harness) endAdopted(pod *corev1.Pod, got <-chan adopted) {
	h.t.Helper()
	h.setStatus(pod, corev1.PodStatus{Phase: corev1.PodSucceeded,
		InitContainerStatuses: []corev1.ContainerStatus{shipperEnded(reported), prepareDone},
		ContainerStatuses:     []corev1.ContainerStatus{terminatedStatus(buildContainer, 0, "Completed", "")}})
	select {
	case a := <-got:
		if a.job.ID != minimalJob().ID || a.run.res.Err != nil {
			h.t.Errorf("adopted job %d: %+v", a.job.ID, a.run.res)
		}
	case <-time.After(20 * time.Second):
		h.t.Fatal("the pod was not adopted")
	}
}

// TestAdoptWaitsForTheReplicasLease: another replica's pod is left alone while that
// replica's Lease is fresh, and adopted once the replica died (its Lease expired) or left
// (it deleted its Lease).
func TestAdoptWaitsForTheReplicasLease(t *testing.T) {
	tests := []struct {
		name string
		end  func(h *harness)
	}{
		{"expired", func(h *harness) {
			l := replicaLease(other, time.Now().Add(-20*time.Second))
			if _, err := direct(h.client).CoordinationV1().Leases("ci").Update(context.Background(), l, metav1.UpdateOptions{}); err != nil {
				h.t.Fatal(err)
			}
		}},
		{"deleted", func(h *harness) {
			if err := direct(h.client).CoordinationV1().Leases("ci").Delete(context.Background(), LeaseName("r1", other), metav1.DeleteOptions{}); err != nil {
				h.t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newReplica(t, replicaLease(other, time.Now()))
			pod := h.leftPodOf(other)
			got := h.adopt()
			h.assertNotAdopted(pod, got)
			tt.end(h)
			h.endAdopted(pod, got)
			h.assertClean()
		})
	}
}

// TestAdoptOwnAndUnlabeledPods: a pod an earlier process of this replica made, or a runner
// older than replica labels, is adopted at once, whatever other replicas' Leases say.
func TestAdoptOwnAndUnlabeledPods(t *testing.T) {
	for _, manager := range []string{us, ""} {
		t.Run("manager="+manager, func(t *testing.T) {
			h := newReplica(t, replicaLease(other, time.Now()))
			pod := h.leftPodOf(manager)
			got := h.adopt()
			h.endAdopted(pod, got)
			if n := h.leaseLists(); n != 0 {
				t.Errorf("listed the Leases %d times to judge a pod that needs none", n)
			}
			h.assertClean()
		})
	}
}

// TestAdoptWithoutLeaseRights: under a Role without leases (an older manifest) no replica
// keeps a Lease, so another replica's pod is adopted as it was before replicas had Leases.
func TestAdoptWithoutLeaseRights(t *testing.T) {
	h := newReplica(t)
	h.client.PrependReactor("list", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, "", nil)
	})
	pod := h.leftPodOf(other)
	got := h.adopt()
	h.endAdopted(pod, got)
	h.assertClean()
}

// TestHeartbeat: the replica labels its pods with its identity, creates its Lease, renews
// it while it runs and deletes it on Close, so that other replicas adopt at once.
func TestHeartbeat(t *testing.T) {
	h := newHarnessOpts(t, Options{UnschedulableTimeout: time.Minute, Identity: us, LeaseDuration: time.Second})
	objs, err := BuildJob(minimalJob(), h.exec.pc)
	if err != nil {
		t.Fatal(err)
	}
	if got := objs.Pod.Labels[jobpod.LabelManager]; got != us {
		t.Errorf("pod label %s = %q, want %q", jobpod.LabelManager, got, us)
	}
	ctx := context.Background()
	leases := direct(h.client).CoordinationV1().Leases("ci")
	var first *metav1.MicroTime
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the Lease was not created and renewed; first renewal %v", first)
		}
		l, err := leases.Get(ctx, LeaseName("r1", us), metav1.GetOptions{})
		if err != nil {
			continue
		}
		if *l.Spec.HolderIdentity != us || *l.Spec.LeaseDurationSeconds != 1 || l.Labels[jobpod.LabelManager] != us || l.Labels[jobpod.LabelRunner] != "r1" {
			t.Fatalf("Lease %+v %+v, want held by %s for 1s, labeled", l.Labels, l.Spec, us)
		}
		if first == nil {
			first = l.Spec.RenewTime
		} else if l.Spec.RenewTime.After(first.Time) {
			break
		}
	}
	h.exec.Close()
	if _, err := leases.Get(ctx, LeaseName("r1", us), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Lease after Close: %v, want not found", err)
	}
}
