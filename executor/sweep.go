package executor

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// orphanSecretAge keeps the sweep off Secrets another replica is creating a pod for.
const orphanSecretAge = time.Minute

// Sweep deletes what earlier runs of this runner left behind (it was killed mid-job): pods
// whose job is over (finished, or running past their active deadline, which the kubelet
// should have enforced), Secrets that never got their pod and deploy ServiceAccounts
// (with their RoleBindings) whose pod is gone. Pods of jobs still running,
// possibly another replica's, are left alone. It reads pods from the informer's cache.
func (k *Kubernetes) Sweep(ctx context.Context, now time.Time) error {
	pods, err := k.pods.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	var errs []error
	for _, pod := range pods {
		if pod.DeletionTimestamp == nil && jobOver(pod, now) {
			errs = append(errs, deletePod(k.client, pod, 0))
		}
	}
	if _, err := SweepOrphanSecrets(ctx, k.client, k.pc.Namespace, k.pc.Runner.Name, orphanSecretAge, now); err != nil {
		errs = append(errs, err)
	}
	podExists := func(name string) bool {
		_, err := k.pods.Get(name)
		return err == nil
	}
	for _, ns := range k.pc.deployNamespaces() {
		if _, err := SweepDeployAccess(ctx, k.client, ns, k.pc.Runner.Name, podExists, orphanSecretAge, now); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func jobOver(pod *corev1.Pod, now time.Time) bool {
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed:
		return true
	}
	if d := pod.Spec.ActiveDeadlineSeconds; d != nil {
		return now.Sub(pod.CreationTimestamp.Time) > time.Duration(*d)*time.Second+cleanupTimeout
	}
	return false
}
