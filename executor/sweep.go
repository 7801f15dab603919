package executor

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// orphanSecretAge keeps the sweep off Secrets another replica is creating a pod for.
const orphanSecretAge = time.Minute

// finishedPodAge keeps the sweep off a pod whose job just ended: the Run that owns it, in
// this process or another replica, is still waiting for its shipper and will delete it itself.
const finishedPodAge = shipperTimeout + cleanupTimeout

// unreportedPodAge is how long a finished pod whose job was not reported waits for a runner
// to adopt it; after that its Secret, with the job token, is not worth keeping.
const unreportedPodAge = time.Hour

// DefaultSweepInterval is how often Sweep runs after the sweep at start: what a runner
// killed mid-job leaves (Secrets holding the job token and masked values among it) stays
// in the namespace no longer than this, even if no runner restarts.
const DefaultSweepInterval = 5 * time.Minute

// Sweep deletes what earlier runs of this runner left behind (it was killed mid-job): pods
// whose job is over (finished a while ago, or running past their active deadline, which the
// kubelet should have enforced), Secrets that never got their pod and deploy
// ServiceAccounts (with their RoleBindings) whose pod is gone. Pods of jobs still running,
// this process's or possibly another replica's, are left alone. It reads pods from the
// informer's cache.
func (k *Kubernetes) Sweep(ctx context.Context, now time.Time) error {
	pods, err := k.pods.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	var errs []error
	for _, pod := range pods {
		if pod.DeletionTimestamp == nil && k.feeds.get(pod.Name) == nil && jobOver(pod, now) {
			errs = append(errs, deletePod(k.client, pod, 0))
		}
	}
	if _, err := SweepOrphanSecrets(ctx, k.client, k.pc.Namespace, k.pc.Runner.Name, orphanSecretAge, now); err != nil {
		errs = append(errs, err)
	}
	podExists := func(name string) bool {
		_, err := k.pods.Get(name)
		return err == nil || k.feeds.get(name) != nil // a Run of ours may not have created it yet
	}
	for _, ns := range k.sweptNamespaces() {
		if _, err := SweepDeployAccess(ctx, k.client, ns, k.pc.Runner.Name, podExists, orphanSecretAge, now); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func jobOver(pod *corev1.Pod, now time.Time) bool {
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed:
		if st, _, ended := shipperState(pod); ended && (st.Reported || st.Gone) {
			return now.Sub(finishedAt(pod)) > finishedPodAge
		}
		// Its job still needs a final state: a runner adopts the pod and reports it.
		return now.Sub(finishedAt(pod)) > unreportedPodAge
	}
	if d := pod.Spec.ActiveDeadlineSeconds; d != nil {
		return now.Sub(pod.CreationTimestamp.Time) > time.Duration(*d)*time.Second+cleanupTimeout
	}
	return false
}

// finishedAt is when the pod's last container ended; zero when no container says.
func finishedAt(pod *corev1.Pod) time.Time {
	var last time.Time
	for _, st := range allStatuses(pod) {
		if t := st.State.Terminated; t != nil && t.FinishedAt.After(last) {
			last = t.FinishedAt.Time
		}
	}
	return last
}

// sweepPeriodically sweeps once the informer has synced, then every interval until Close.
func (k *Kubernetes) sweepPeriodically(interval time.Duration) {
	if !cache.WaitForCacheSync(k.stop, k.synced) {
		close(k.swept)
		return
	}
	k.sweepOnce()
	close(k.swept)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-k.stop:
			return
		case <-tick.C:
			k.sweepOnce()
		}
	}
}

func (k *Kubernetes) sweepOnce() {
	k.adoptOrphans()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := k.Sweep(ctx, time.Now()); err != nil {
		k.log.Warn("sweep of leftover job pods and secrets", "runner", k.pc.Runner.Name, "err", err)
	}
}
