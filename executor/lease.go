package executor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"

	"github.com/kuberunner/kuberunner/executor/jobpod"
)

// Several replicas of one runner (one Deployment, one token) share the jobs' namespace. Each
// replica labels its pods with its identity and renews a Lease named for it while it runs.
// When that Lease is gone (the replica left) or expired (it died), exactly one other replica
// adopts its pods: the one whose claim on the Lease the API server accepted (claim.go).
// The API server's optimistic concurrency (AlreadyExists, Conflict) picks it; nothing else.

// DefaultLeaseDuration is how long a replica's Lease stays fresh without a renewal; it is
// renewed three times as often, so one slow API call does not let other replicas adopt.
const DefaultLeaseDuration = 15 * time.Second

// DefaultAdoptInterval is how often a runner that adopts looks for pods to adopt: a dead
// replica's pods are adopted within DefaultLeaseDuration plus this of its last renewal.
const DefaultAdoptInterval = 10 * time.Second

var nameInvalid = regexp.MustCompile(`[^a-z0-9-]+`)

// LeaseName is the Lease of one replica of a runner: a DNS label (at most 63 characters),
// with a hash of the unaltered name when it had to be shortened or changed, so that two
// replicas never share one.
func LeaseName(runnerName, identity string) string {
	raw := "kuberunner-" + runnerName + "-" + identity
	name := strings.Trim(nameInvalid.ReplaceAllString(strings.ToLower(raw), "-"), "-")
	if name == raw && len(name) <= 63 {
		return name
	}
	sum := sha256.Sum256([]byte(raw))
	if len(name) > 52 {
		name = strings.TrimRight(name[:52], "-")
	}
	return name + "-" + hex.EncodeToString(sum[:])[:10]
}

// heartbeat keeps this replica's Lease fresh, and the claims it holds on other replicas'.
type heartbeat struct {
	leases   coordinationclient.LeaseInterface
	name     string
	identity string
	labels   map[string]string
	duration time.Duration
	log      *slog.Logger
	claims   *claims
	lease    *coordinationv1.Lease // as last written; nil: read it again
	// held: the Lease as last read or written is this replica's own. While another replica
	// holds it (a claim: this replica restarted under the same name after it was thought
	// dead), this replica's own pods are that replica's to follow, not this one's.
	held    atomic.Bool
	waiting string        // the claim's holder this replica waits for, once logged
	done    chan struct{} // closed when run returned
}

// run renews the Lease and the claims at once, then every third of the Lease's duration
// until stop is closed.
func (h *heartbeat) run(stop <-chan struct{}) {
	defer close(h.done)
	tick := time.NewTicker(h.duration / 3)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), h.duration/3)
		now := time.Now()
		if err := h.renew(ctx, now); err != nil {
			h.log.Warn("renew this replica's lease", "lease", h.name, "err", err)
			h.lease = nil // it may have changed under us: read it again
			h.held.Store(false)
		}
		h.claims.renew(ctx, now)
		cancel()
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

// renew writes now as the Lease's renewal, creating the Lease if there is none. A Lease of
// the same name held before by this identity is an earlier process of this replica's: it
// is taken over. One held, fresh, by another identity is that replica's claim on this one's
// pods (it found the Lease gone or expired): it is left alone until released or expired,
// and then taken back with the resourceVersion read, so that a race with another claimant
// has one winner.
func (h *heartbeat) renew(ctx context.Context, now time.Time) error {
	l := h.lease
	if l == nil {
		got, err := h.leases.Get(ctx, h.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: h.name}}
			stampLease(l, h.identity, h.labels, h.duration, now)
			created, err := h.leases.Create(ctx, l, metav1.CreateOptions{})
			if err != nil {
				return fmt.Errorf("create: %w", err)
			}
			h.took(created)
			return nil
		}
		if err != nil {
			return fmt.Errorf("get: %w", err)
		}
		if holder := holderOf(got); holder != h.identity && !leaseExpired(got, now) {
			h.held.Store(false)
			if h.waiting != holder {
				h.waiting = holder
				h.log.Info("another replica adopted this replica's pods; waiting until it releases them",
					"lease", h.name, "holder", holder)
			}
			return nil
		}
		l = got
	}
	l = l.DeepCopy()
	stampLease(l, h.identity, h.labels, h.duration, now)
	delete(l.Annotations, annotationAdoptBefore) // a claim taken back is this replica's again
	updated, err := h.leases.Update(ctx, l, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	h.took(updated)
	return nil
}

func (h *heartbeat) took(l *coordinationv1.Lease) {
	h.lease, h.waiting = l, ""
	h.held.Store(true)
}

// release deletes the Lease once run returned, if it is still this replica's: the other
// replicas adopt its pods at their next pass instead of after the Lease expired. It also
// gives up the claims this replica holds, so that others can claim those.
func (h *heartbeat) release(pods []*corev1.Pod) {
	<-h.done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if l := h.lease; l != nil && h.held.Load() {
		// The precondition: a claim written since the last renewal is not ours to delete.
		pre := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &l.ResourceVersion}}
		if err := h.leases.Delete(ctx, h.name, pre); err != nil && !apierrors.IsNotFound(err) {
			h.log.Warn("delete this replica's lease; other replicas adopt its pods once it expires", "lease", h.name, "err", err)
		}
	}
	h.claims.releaseAll(ctx, pods)
}

// stampLease makes holder the Lease's holder, renewed at now, labelled with lbls.
func stampLease(l *coordinationv1.Lease, holder string, lbls map[string]string, d time.Duration, now time.Time) {
	if l.Labels == nil {
		l.Labels = map[string]string{}
	}
	maps.Copy(l.Labels, lbls)
	at := metav1.NewMicroTime(now)
	if holderOf(l) != holder || l.Spec.AcquireTime == nil {
		l.Spec.AcquireTime = &at
	}
	l.Spec.HolderIdentity = &holder
	l.Spec.LeaseDurationSeconds = ptr(int32((d + time.Second - 1) / time.Second))
	l.Spec.RenewTime = &at
}

func holderOf(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// leaseExpired: a Lease not renewed within its duration belongs to a replica that died.
func leaseExpired(l *coordinationv1.Lease, now time.Time) bool {
	s := l.Spec
	if s.RenewTime == nil || s.LeaseDurationSeconds == nil {
		return true
	}
	return jobpod.LeaseExpired(s.RenewTime.Time, *s.LeaseDurationSeconds, now)
}

// replicas is one adoption pass's view of the runner's other replicas: their Leases, listed
// once per pass and only when a pod of another replica is to be judged, and which of them
// this replica claimed.
type replicas struct {
	k       *Kubernetes
	now     time.Time
	listed  bool
	leases  map[string]*coordinationv1.Lease // by jobpod.LabelManager
	err     error
	cutoffs map[string]time.Time // by manager claimed in this pass; zero: not this replica's
}

// adoptable: the pod is this replica's (an earlier process of it created it) while this
// replica holds its own Lease, an older runner's (no manager label), or its replica's Lease
// was gone or expired and this replica's claim on it won, and the pod predates the claim.
func (r *replicas) adoptable(pod metav1.Object) bool {
	m := pod.GetLabels()[jobpod.LabelManager]
	switch {
	case m == "":
		return true
	case m == r.k.pc.Manager:
		return r.k.heartbeat.held.Load()
	case r.now.Sub(pod.GetCreationTimestamp().Time) <= r.k.leaseDuration:
		// A replica creates its Lease as it starts; a pod younger than a Lease's duration may
		// have been created before its replica's first renewal got through.
		return false
	}
	if !r.listed {
		r.listed = true
		r.leases, r.err = r.k.replicaLeases()
		if r.err != nil {
			r.k.log.Warn("list the runner's replica leases", "runner", r.k.pc.Runner.Name, "err", r.err)
		}
	}
	if r.err != nil {
		// A Role without leases (an older manifest) lets no replica keep a Lease either:
		// adopt, as runners did before replicas had Leases. Any other error: the next pass.
		return apierrors.IsForbidden(r.err)
	}
	if r.k.claims == nil {
		// A process without an identity cannot hold a claim; it is its runner's only one.
		l := r.leases[m]
		return l == nil || leaseExpired(l, r.now)
	}
	cutoff, seen := r.cutoffs[m]
	if !seen {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cutoff, _ = r.k.claims.take(ctx, m, r.leases[m], r.now)
		r.cutoffs[m] = cutoff
	}
	return pod.GetCreationTimestamp().Time.Before(cutoff)
}

// replicaLeases are the Leases of this runner's replicas, by the manager they are for.
func (k *Kubernetes) replicaLeases() (map[string]*coordinationv1.Lease, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sel := labels.SelectorFromSet(RunnerSelector(k.pc.Runner.Name)).String()
	list, err := k.client.CoordinationV1().Leases(k.pc.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, err
	}
	leases := map[string]*coordinationv1.Lease{}
	for i := range list.Items {
		if l := &list.Items[i]; l.Labels[jobpod.LabelManager] != "" {
			leases[l.Labels[jobpod.LabelManager]] = l
		}
	}
	return leases, nil
}
