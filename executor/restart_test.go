package executor

import (
	"context"
	"log/slog"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"

	"github.com/kuberunner/kuberunner/executor/jobpod"
)

// TestRestartedReplicaWaitsForItsAdopter: a replica restarted under the same name finds its
// Lease claimed, fresh, by the replica that adopted its pods. It neither takes the Lease nor
// follows those pods until the claim is released or expires; then it takes the Lease back
// and adopts what is left.
func TestRestartedReplicaWaitsForItsAdopter(t *testing.T) {
	leases := func(h *harness) coordinationclient.LeaseInterface {
		return direct(h.client).CoordinationV1().Leases("ci")
	}
	tests := []struct {
		name string
		end  func(h *harness)
	}{
		{"released", func(h *harness) {
			if err := leases(h).Delete(context.Background(), LeaseName("r1", us), metav1.DeleteOptions{}); err != nil {
				h.t.Fatal(err)
			}
		}},
		{"expired", func(h *harness) {
			l, err := leases(h).Get(context.Background(), LeaseName("r1", us), metav1.GetOptions{})
			if err != nil {
				h.t.Fatal(err)
			}
			expire(l)
			if _, err := leases(h).Update(context.Background(), l, metav1.UpdateOptions{}); err != nil {
				h.t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarnessOpts(t, Options{UnschedulableTimeout: time.Minute, Identity: us,
				LeaseDuration: 300 * time.Millisecond, AdoptInterval: 10 * time.Millisecond},
				claimLease(us, other, time.Now(), time.Now()))
			pod := h.leftPod()
			got := h.adopt()
			// The heartbeat reads its Lease again at every beat while it waits.
			for deadline := time.Now().Add(10 * time.Second); h.leaseCalls("get") < 3; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the heartbeat did not read its Lease again")
				}
			}
			if h.exec.feeds.get(pod.Name) != nil {
				t.Fatal("the restarted replica follows a pod its adopter follows")
			}
			l, err := leases(h).Get(context.Background(), LeaseName("r1", us), metav1.GetOptions{})
			if err != nil || holderOf(l) != other {
				t.Fatalf("the claim while its holder is alive: %v held by %q, want %q", err, holderOf(l), other)
			}
			tt.end(h)
			h.endAdopted(pod, got)
			h.assertClean()
			l, err = leases(h).Get(context.Background(), LeaseName("r1", us), metav1.GetOptions{})
			if err != nil || holderOf(l) != us || l.Annotations[annotationAdoptBefore] != "" {
				t.Errorf("the Lease taken back: %v held by %q, annotations %v", err, holderOf(l), l.Annotations)
			}
		})
	}
}

// TestClaimGivenUp: an adopter keeps its claim while a pod it adopted is left; once they are
// gone it deletes the claim, or hands the Lease back to its replica when that replica made
// pods since the claim (it restarted and waits for its Lease).
func TestClaimGivenUp(t *testing.T) {
	cutoff := time.Now().Add(-30 * time.Second)
	podAt := func(at time.Time) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", CreationTimestamp: metav1.NewTime(at),
			Labels: map[string]string{jobpod.LabelManager: dead}}}
	}
	left, since := podAt(cutoff.Add(-time.Minute)), podAt(time.Now())
	tests := []struct {
		name       string
		pods       []*corev1.Pod
		wantHolder string // "": deleted
	}{
		{"a pod from before the claim left", []*corev1.Pod{left, since}, us},
		{"only pods made since", []*corev1.Pod{since}, dead},
		{"no pods", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := newFakeAPI(t, claimLease(dead, us, time.Now(), cutoff))
			leases := direct(client).CoordinationV1().Leases("ci")
			ctx := context.Background()
			held, err := leases.Get(ctx, LeaseName("r1", dead), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			c := &claims{leases: leases, runner: "r1", identity: us, duration: DefaultLeaseDuration,
				log: slog.Default(), held: map[string]*coordinationv1.Lease{dead: held}}
			c.releaseDone(ctx, tt.pods)
			l, err := leases.Get(ctx, LeaseName("r1", dead), metav1.GetOptions{})
			switch {
			case tt.wantHolder == "":
				if !apierrors.IsNotFound(err) {
					t.Errorf("the claim: %v, want deleted", err)
				}
			case err != nil:
				t.Fatal(err)
			case holderOf(l) != tt.wantHolder || leaseExpired(l, time.Now()):
				t.Errorf("the Lease is held by %q (expired: %v), want %q, fresh", holderOf(l), leaseExpired(l, time.Now()), tt.wantHolder)
			case tt.wantHolder == dead && l.Annotations[annotationAdoptBefore] != "":
				t.Errorf("the Lease handed back still claims pods: %v", l.Annotations)
			}
		})
	}
}
