package executor

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
)

// createJobObjects creates the Secret, then the pod, then makes the pod the Secret's owner
// so the garbage collector deletes the Secret with the pod. If the pod cannot be created
// the Secret is deleted at once; if the owner update fails the pod is deleted too, as a
// Secret without an owner would outlive the job.
func createJobObjects(ctx context.Context, c kubernetes.Interface, pod *corev1.Pod, secret *corev1.Secret) (*corev1.Pod, error) {
	secrets := c.CoreV1().Secrets(secret.Namespace)
	created, err := secrets.Create(ctx, secret, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create secret %s: %w", secret.Name, err)
	}
	p, err := c.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("create pod %s: %w", pod.Name, err), deleteSecret(c, created))
	}
	created.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "Pod", Name: p.Name, UID: p.UID,
		BlockOwnerDeletion: ptr(false),
	}}
	if _, err := secrets.Update(ctx, created, metav1.UpdateOptions{}); err != nil {
		return nil, errors.Join(fmt.Errorf("set owner of secret %s: %w", secret.Name, err),
			deletePod(c, p, 0), deleteSecret(c, created))
	}
	return p, nil
}

// deleteSecret and deletePod clean up with their own deadline: they run when the job's
// context may already be cancelled.
func deleteSecret(c kubernetes.Interface, s *corev1.Secret) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := c.CoreV1().Secrets(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete secret %s: %w", s.Name, err)
	}
	return nil
}

func deletePod(c kubernetes.Interface, p *corev1.Pod, grace time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := c.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr(int64(grace.Seconds())),
		// Background: the call returns at once; the Secret goes with the pod.
		PropagationPolicy: ptr(metav1.DeletePropagationBackground),
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete pod %s: %w", p.Name, err)
	}
	return nil
}

// SweepOrphanSecrets deletes this runner's job Secrets that never got a pod as owner
// (the runner stopped between creating the Secret and the owner update) and are older
// than minAge, so another replica's job being created right now is left alone. It returns
// how many it deleted.
func SweepOrphanSecrets(ctx context.Context, c kubernetes.Interface, namespace, runnerName string, minAge time.Duration, now time.Time) (int, error) {
	list, err := c.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(RunnerSelector(runnerName)).String(),
	})
	if err != nil {
		return 0, fmt.Errorf("list secrets in %s: %w", namespace, err)
	}
	deleted := 0
	var errs []error
	for i := range list.Items {
		s := &list.Items[i]
		if len(s.OwnerReferences) > 0 || now.Sub(s.CreationTimestamp.Time) < minAge {
			continue
		}
		if err := deleteSecret(c, s); err != nil {
			errs = append(errs, err)
			continue
		}
		deleted++
	}
	return deleted, errors.Join(errs...)
}
