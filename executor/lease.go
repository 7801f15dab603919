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
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"

	"github.com/kuberunner/kuberunner/executor/jobpod"
)

// Several replicas of one runner (one Deployment, one token) share the jobs' namespace. Each
// replica labels its pods with its identity and renews a Lease while it runs; another
// replica adopts those pods only once that Lease is gone (the replica left) or expired (it
// died). The Lease is a heartbeat, nothing more: no replica ever takes another's.

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

// heartbeat keeps this replica's Lease fresh.
type heartbeat struct {
	leases   coordinationclient.LeaseInterface
	name     string
	identity string
	labels   map[string]string
	duration time.Duration
	log      *slog.Logger
	lease    *coordinationv1.Lease // as last written; nil: read it again
	done     chan struct{}         // closed when run returned
}

// run renews the Lease at once, then every third of its duration until stop is closed.
func (h *heartbeat) run(stop <-chan struct{}) {
	defer close(h.done)
	tick := time.NewTicker(h.duration / 3)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), h.duration/3)
		if err := h.renew(ctx, time.Now()); err != nil {
			h.log.Warn("renew this replica's lease", "lease", h.name, "err", err)
			h.lease = nil // it may have changed under us: read it again
		}
		cancel()
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

// renew writes now as the Lease's renewal, creating the Lease if there is none. A Lease of
// the same name held before is an earlier process of this replica's: it is taken over.
func (h *heartbeat) renew(ctx context.Context, now time.Time) error {
	l := h.lease
	if l == nil {
		got, err := h.leases.Get(ctx, h.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: h.name}}
			h.stamp(l, now)
			created, err := h.leases.Create(ctx, l, metav1.CreateOptions{})
			if err != nil {
				return fmt.Errorf("create: %w", err)
			}
			h.lease = created
			return nil
		}
		if err != nil {
			return fmt.Errorf("get: %w", err)
		}
		l = got
	}
	l = l.DeepCopy()
	h.stamp(l, now)
	updated, err := h.leases.Update(ctx, l, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	h.lease = updated
	return nil
}

func (h *heartbeat) stamp(l *coordinationv1.Lease, now time.Time) {
	if l.Labels == nil {
		l.Labels = map[string]string{}
	}
	maps.Copy(l.Labels, h.labels)
	at := metav1.NewMicroTime(now)
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != h.identity || l.Spec.AcquireTime == nil {
		l.Spec.AcquireTime = &at
	}
	l.Spec.HolderIdentity = &h.identity
	l.Spec.LeaseDurationSeconds = ptr(int32((h.duration + time.Second - 1) / time.Second))
	l.Spec.RenewTime = &at
}

// release deletes the Lease once run returned: the other replicas adopt this one's pods
// at their next pass instead of after the Lease expired.
func (h *heartbeat) release() {
	<-h.done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.leases.Delete(ctx, h.name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		h.log.Warn("delete this replica's lease; other replicas adopt its pods once it expires", "lease", h.name, "err", err)
	}
}

// leaseExpired: a Lease not renewed within its duration belongs to a replica that died.
func leaseExpired(l *coordinationv1.Lease, now time.Time) bool {
	s := l.Spec
	if s.RenewTime == nil || s.LeaseDurationSeconds == nil {
		return true
	}
	return jobpod.LeaseExpired(s.RenewTime.Time, *s.LeaseDurationSeconds, now)
}

// replicas is one adoption pass's view of the runner's other replicas: whose Lease is
// fresh. The Leases are listed once per pass, and only when a pod of another replica is
// to be judged.
type replicas struct {
	k      *Kubernetes
	now    time.Time
	listed bool
	live   map[string]bool // jobpod.LabelManager values with a fresh Lease
	err    error
}

// adoptable: the pod is this replica's (an earlier process of it created it), an older
// runner's (no manager label), or its replica's Lease is gone or expired.
func (r *replicas) adoptable(pod metav1.Object) bool {
	m := pod.GetLabels()[jobpod.LabelManager]
	if m == "" || m == r.k.pc.Manager {
		return true
	}
	if !r.listed {
		r.listed = true
		r.live, r.err = r.k.liveManagers(r.now)
		if r.err != nil {
			r.k.log.Warn("list the runner's replica leases", "runner", r.k.pc.Runner.Name, "err", r.err)
		}
	}
	if r.err != nil {
		// A Role without leases (an older manifest) lets no replica keep a Lease either:
		// adopt, as runners did before replicas had Leases. Any other error: the next pass.
		return apierrors.IsForbidden(r.err)
	}
	if r.live[m] {
		return false
	}
	// A replica creates its Lease as it starts; a pod younger than a Lease's duration may
	// have been created before its replica's first renewal got through.
	return r.now.Sub(pod.GetCreationTimestamp().Time) > r.k.leaseDuration
}

// liveManagers are the replicas of this runner whose Lease is fresh.
func (k *Kubernetes) liveManagers(now time.Time) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sel := labels.SelectorFromSet(RunnerSelector(k.pc.Runner.Name)).String()
	list, err := k.client.CoordinationV1().Leases(k.pc.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, err
	}
	live := map[string]bool{}
	for i := range list.Items {
		if l := &list.Items[i]; l.Labels[jobpod.LabelManager] != "" && !leaseExpired(l, now) {
			live[l.Labels[jobpod.LabelManager]] = true
		}
	}
	return live, nil
}
