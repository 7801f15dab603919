package executor

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestCreateJobObjectsOwnsSecret(t *testing.T) {
	pod, secret, err := BuildPod(minimalJob(), mustPodConfig(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	c := recorded(t, fake.NewClientset())
	c.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.UID = types.UID("pod-uid-1")
		return false, nil, nil
	})
	ctx := context.Background()
	if _, err := createJobObjects(ctx, c, &JobObjects{Pod: pod, Secret: secret}, APIServer{}); err != nil {
		t.Fatalf("createJobObjects: %v", err)
	}
	var verbs []string
	for _, a := range c.Actions() {
		verbs = append(verbs, a.GetVerb()+" "+a.GetResource().Resource)
	}
	if d := cmp.Diff([]string{"create secrets", "create pods", "update secrets"}, verbs); d != "" {
		t.Errorf("API calls -want +got:\n%s", d)
	}
	got, err := direct(c).CoreV1().Secrets(secret.Namespace).Get(ctx, secret.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: "pod-uid-1", BlockOwnerDeletion: ptr(false)}}
	if d := cmp.Diff(want, got.OwnerReferences); d != "" {
		t.Errorf("secret owners -want +got:\n%s", d)
	}
}

func TestCreateJobObjectsRemovesSecretWhenPodFails(t *testing.T) {
	pod, secret, err := BuildPod(minimalJob(), mustPodConfig(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	c := recorded(t, fake.NewClientset())
	c.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, context.DeadlineExceeded
	})
	if _, err := createJobObjects(context.Background(), c, &JobObjects{Pod: pod, Secret: secret}, APIServer{}); err == nil {
		t.Fatal("createJobObjects succeeded, want the pod's error")
	}
	list, err := direct(c).CoreV1().Secrets(secret.Namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 0 {
		t.Errorf("%d secrets left, want 0", len(list.Items))
	}
}

func TestSweepOrphanSecrets(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	mk := func(name string, age time.Duration, owned bool, runner string) *corev1.Secret {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "ci", Labels: RunnerSelector(runner),
			CreationTimestamp: metav1.NewTime(now.Add(-age)),
		}}
		if owned {
			s.OwnerReferences = []metav1.OwnerReference{{Kind: "Pod", Name: name}}
		}
		return s
	}
	c := recorded(t, fake.NewClientset(
		mk("orphan", time.Hour, false, "r1"),
		mk("owned", time.Hour, true, "r1"),
		mk("young", time.Second, false, "r1"),
		mk("other-runner", time.Hour, false, "r2"),
	))
	n, err := SweepOrphanSecrets(context.Background(), c, "ci", "r1", time.Minute, now)
	if err != nil {
		t.Fatalf("SweepOrphanSecrets: %v", err)
	}
	if n != 1 {
		t.Errorf("deleted %d, want 1", n)
	}
	list, err := direct(c).CoreV1().Secrets("ci").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, s := range list.Items {
		left = append(left, s.Name)
	}
	if d := cmp.Diff([]string{"other-runner", "owned", "young"}, left); d != "" {
		t.Errorf("secrets left -want +got:\n%s", d)
	}
}
