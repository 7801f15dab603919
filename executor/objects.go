package executor

import (
	"context"
	"errors"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kuberunner/kuberunner/executor/jobpod"
)

// createJobObjects creates a job's objects in the order that keeps every one owned or
// findable: for deploy jobs first the ServiceAccount, its token (written into the Secret as
// a kubeconfig) and the RoleBinding (owned by the ServiceAccount); then the Secret; then the
// pod, which becomes the Secret's owner so the garbage collector removes the Secret with the
// pod. Whatever fails, what was created is deleted at once.
func createJobObjects(ctx context.Context, c Client, o *JobObjects, api APIServer) (*corev1.Pod, error) {
	if o.ServiceAccount != nil {
		kubeconfig, err := createDeployAccess(ctx, c, o, api)
		if err != nil {
			return nil, errors.Join(err, deleteDeployObjects(c, o))
		}
		o.Secret.Data[jobpod.KubeconfigFile] = kubeconfig
	}
	secrets := c.CoreV1().Secrets(o.Secret.Namespace)
	created, err := secrets.Create(ctx, o.Secret, metav1.CreateOptions{})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("create secret %s: %w", o.Secret.Name, err), deleteDeployObjects(c, o))
	}
	undo := func(err error) (*corev1.Pod, error) {
		return nil, errors.Join(err, deleteDeployObjects(c, o), deleteSecret(c, created))
	}
	p, err := c.CoreV1().Pods(o.Pod.Namespace).Create(ctx, o.Pod, metav1.CreateOptions{})
	if err != nil {
		return undo(fmt.Errorf("create pod %s: %w", o.Pod.Name, err))
	}
	created.OwnerReferences = []metav1.OwnerReference{ownerRef("Pod", p.Name, p.UID)}
	if _, err := secrets.Update(ctx, created, metav1.UpdateOptions{}); err != nil {
		return undo(errors.Join(fmt.Errorf("set owner of secret %s: %w", o.Secret.Name, err), deletePod(c, p, 0)))
	}
	return p, nil
}

// createDeployAccess gives a deploy job its ServiceAccount, RoleBinding and token, and
// returns the job's kubeconfig.
func createDeployAccess(ctx context.Context, c Client, o *JobObjects, api APIServer) ([]byte, error) {
	sas := c.CoreV1().ServiceAccounts(o.ServiceAccount.Namespace)
	sa, err := sas.Create(ctx, o.ServiceAccount, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create service account %s/%s: %w", o.ServiceAccount.Namespace, o.ServiceAccount.Name, err)
	}
	rb := o.RoleBinding.DeepCopy()
	rb.OwnerReferences = []metav1.OwnerReference{ownerRef("ServiceAccount", sa.Name, sa.UID)}
	if _, err := c.RbacV1().RoleBindings(rb.Namespace).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("bind cluster role %s in namespace %s: %w", rb.RoleRef.Name, rb.Namespace, err)
	}
	tr, err := sas.CreateToken(ctx, sa.Name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(o.TokenSeconds)},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("request a token for service account %s/%s: %w", sa.Namespace, sa.Name, err)
	}
	return deployKubeconfig(api, sa.Namespace, tr.Status.Token)
}

func ownerRef(kind, name string, uid types.UID) metav1.OwnerReference {
	// BlockOwnerDeletion false: deleting the owner never waits for its dependents, and
	// setting it needs no permission on the owner's finalizers.
	return metav1.OwnerReference{APIVersion: "v1", Kind: kind, Name: name, UID: uid, BlockOwnerDeletion: ptr(false)}
}

// deleteDeployObjects deletes a deploy job's ServiceAccount, which ends its token's validity
// at once, and its RoleBinding (the garbage collector would, a little later).
func deleteDeployObjects(c Client, o *JobObjects) error {
	if o.ServiceAccount == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	sa := o.ServiceAccount
	if err := c.CoreV1().ServiceAccounts(sa.Namespace).Delete(ctx, sa.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("delete service account %s/%s: %w", sa.Namespace, sa.Name, err))
	}
	rb := o.RoleBinding
	if err := c.RbacV1().RoleBindings(rb.Namespace).Delete(ctx, rb.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("delete role binding %s/%s: %w", rb.Namespace, rb.Name, err))
	}
	return errors.Join(errs...)
}

// deleteSecret and deletePod clean up with their own deadline: they run when the job's
// context may already be cancelled.
func deleteSecret(c Client, s *corev1.Secret) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := c.CoreV1().Secrets(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete secret %s: %w", s.Name, err)
	}
	return nil
}

func deletePod(c Client, p *corev1.Pod, grace time.Duration) error {
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
func SweepOrphanSecrets(ctx context.Context, c Client, namespace, runnerName string, minAge time.Duration, now time.Time) (int, error) {
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

// SweepDeployAccess deletes this runner's ServiceAccounts in namespace whose job pod is gone
// (podExists says) and that are older than minAge, and with them (by ownership) their
// RoleBindings: a runner killed mid-job leaves them, as nothing in the jobs' namespace can
// own them. It returns how many it deleted.
func SweepDeployAccess(ctx context.Context, c Client, namespace, runnerName string, podExists func(name string) bool, minAge time.Duration, now time.Time) (int, error) {
	list, err := c.CoreV1().ServiceAccounts(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(RunnerSelector(runnerName)).String(),
	})
	if err != nil {
		return 0, fmt.Errorf("list service accounts in %s: %w", namespace, err)
	}
	deleted := 0
	var errs []error
	for _, sa := range list.Items {
		if podExists(sa.Name) || now.Sub(sa.CreationTimestamp.Time) < minAge {
			continue
		}
		err := c.CoreV1().ServiceAccounts(namespace).Delete(ctx, sa.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete service account %s/%s: %w", namespace, sa.Name, err))
			continue
		}
		deleted++
	}
	return deleted, errors.Join(errs...)
}
