package executor

import (
	"context"
	"log/slog"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"

	"github.com/kuberunner/kuberunner/executor/jobpod"
)

// How a replica's pods find exactly one adopter (M: the replica that made them, its Lease
// L(M), labelled kuberunner.io/manager=M):
//   - L(M) held by M and fresh: M is alive; nobody else adopts its pods.
//   - L(M) gone or expired: claimable. A replica claims it by Create (gone) or by Update
//     with the resourceVersion it read (expired), as holder. AlreadyExists or Conflict:
//     another replica won; this one adopts nothing of M's in this pass.
//   - L(M) held fresh by A != M: A's claim; only A adopts M's pods, only those created
//     before the claim's cutoff (annotationAdoptBefore). Whatever M makes later is a
//     restarted M's, which follows those pods itself.
//   - A renews its claims with its own Lease. Once no pod of M from before the cutoff
//     remains, or when A exits, it gives L(M) up: to M (holder M, fresh) if M has made
//     pods since (M restarted, and now adopts what is left), else by deleting it.
//   - A claim that expires (A died) is claimable as above and keeps its cutoff.

// annotationAdoptBefore on a claimed Lease: the claimant adopts the pods of the Lease's
// replica created before this time (RFC 3339), the ones that replica left.
const annotationAdoptBefore = "kuberunner.io/adopt-before"

// claims are the Leases of other replicas this one holds, to adopt their pods. The adoption
// pass takes and gives them up, the heartbeat renews them.
type claims struct {
	mu       sync.Mutex
	leases   coordinationclient.LeaseInterface
	runner   string
	identity string
	duration time.Duration
	log      *slog.Logger
	held     map[string]*coordinationv1.Lease // by the manager whose pods, as last written
	closed   bool                             // released at exit: take no more
}

// take claims the Lease of manager m, read as cur (nil: there is none) in this pass, and
// says before when the pods this replica may adopt of m's were created.
func (c *claims) take(ctx context.Context, m string, cur *coordinationv1.Lease, now time.Time) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return time.Time{}, false
	}
	if l := c.held[m]; l != nil {
		if cur != nil && holderOf(cur) == c.identity {
			return adoptBefore(l), true
		}
		delete(c.held, m) // lost while a renewal failed, or given up by another hand
	}
	if cur != nil && holderOf(cur) != c.identity && !leaseExpired(cur, now) {
		return time.Time{}, false // m's own, or another replica's claim
	}
	cutoff := now
	var err error
	var l *coordinationv1.Lease
	if cur == nil {
		l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: LeaseName(c.runner, m)}}
		c.stamp(l, m, now, cutoff)
		l, err = c.leases.Create(ctx, l, metav1.CreateOptions{})
	} else {
		// Expired, or held by an earlier process of this replica. A claim passed on keeps
		// its cutoff: pods made later are a restarted m's, which follows them.
		if holderOf(cur) != m {
			if t := adoptBefore(cur); !t.IsZero() {
				cutoff = t
			}
		}
		l = cur.DeepCopy()
		c.stamp(l, m, now, cutoff)
		l, err = c.leases.Update(ctx, l, metav1.UpdateOptions{})
	}
	if err != nil {
		if !apierrors.IsAlreadyExists(err) && !apierrors.IsConflict(err) {
			c.log.Warn("claim another replica's lease to adopt its pods", "manager", m, "err", err)
		}
		return time.Time{}, false
	}
	c.log.Info("claimed another replica's lease to adopt its pods", "manager", m, "lease", l.Name)
	c.held[m] = l
	return adoptBefore(l), true
}

func (c *claims) stamp(l *coordinationv1.Lease, m string, now, cutoff time.Time) {
	lbls := RunnerSelector(c.runner)
	lbls[jobpod.LabelManager] = m
	stampLease(l, c.identity, lbls, c.duration, now)
	if l.Annotations == nil {
		l.Annotations = map[string]string{}
	}
	l.Annotations[annotationAdoptBefore] = cutoff.UTC().Format(time.RFC3339Nano)
}

// adoptBefore is a claim's cutoff, to the second below, as pods' creation times are kept;
// zero when the Lease is no claim.
func adoptBefore(l *coordinationv1.Lease) time.Time {
	t, err := time.Parse(time.RFC3339Nano, l.Annotations[annotationAdoptBefore])
	if err != nil {
		return time.Time{}
	}
	return t.Truncate(time.Second)
}

// renew keeps every claim fresh. A claim that cannot be renewed is dropped here; the next
// adoption pass takes it again if it is still this replica's.
func (c *claims) renew(ctx context.Context, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for m, l := range c.held {
		l = l.DeepCopy()
		at := metav1.NewMicroTime(now)
		l.Spec.RenewTime = &at
		updated, err := c.leases.Update(ctx, l, metav1.UpdateOptions{})
		if err != nil {
			delete(c.held, m)
			c.log.Warn("renew a claim on another replica's lease", "manager", m, "err", err)
			continue
		}
		c.held[m] = updated
	}
}

// releaseDone gives up the claims whose pods, those created before the cutoff, are all gone.
func (c *claims) releaseDone(ctx context.Context, pods []*corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for m, l := range c.held {
		if left, _ := podsOf(pods, m, adoptBefore(l)); left == 0 {
			c.give(ctx, m, l, pods)
		}
	}
}

// releaseAll gives up every claim, at exit, and takes no more.
func (c *claims) releaseAll(ctx context.Context, pods []*corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for m, l := range c.held {
		c.give(ctx, m, l, pods)
	}
}

// give hands m's Lease back to m when m made pods since the claim (it restarted and
// waits for it), else deletes it, so that either m or another replica adopts what is left.
func (c *claims) give(ctx context.Context, m string, l *coordinationv1.Lease, pods []*corev1.Pod) {
	delete(c.held, m)
	var err error
	if _, since := podsOf(pods, m, adoptBefore(l)); since > 0 {
		l = l.DeepCopy()
		stampLease(l, m, nil, c.duration, time.Now())
		delete(l.Annotations, annotationAdoptBefore)
		_, err = c.leases.Update(ctx, l, metav1.UpdateOptions{})
	} else {
		pre := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &l.ResourceVersion}}
		err = c.leases.Delete(ctx, l.Name, pre)
	}
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		c.log.Warn("give up a claim on another replica's lease; it expires", "manager", m, "err", err)
	}
}

// podsOf counts the pods of manager m created before cutoff and since.
func podsOf(pods []*corev1.Pod, m string, cutoff time.Time) (before, since int) {
	for _, p := range pods {
		switch {
		case p.Labels[jobpod.LabelManager] != m:
		case p.CreationTimestamp.Time.Before(cutoff):
			before++
		default:
			since++
		}
	}
	return before, since
}
