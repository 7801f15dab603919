package executor

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/executor/jobpod"
)

// finishedPod is a pod of runner r1 whose containers ended ago, its job reported by its shipper.
func finishedPod(name string, ago time.Duration) *corev1.Pod {
	p := unreportedPod(name, ago)
	at := p.Status.ContainerStatuses[0].State.Terminated.FinishedAt
	p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: jobpod.ShipperContainer, State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{FinishedAt: at, Message: `{"offset":10,"reported":true}`}}}}
	return p
}

// unreportedPod is a pod of runner r1 whose containers ended ago, its job not reported.
func unreportedPod(name string, ago time.Duration) *corev1.Pod {
	at := metav1.NewTime(time.Now().Add(-ago))
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ci", Labels: RunnerSelector("r1"),
			CreationTimestamp: metav1.NewTime(at.Add(-time.Minute))},
		Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{
			Name: buildContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: at}}}}},
	}
}

// TestSweepRunsPeriodically: what a dead runner leaves while this one runs (a finished pod,
// a Secret that never got its pod) goes at the next sweep, not only at the next start.
func TestSweepRunsPeriodically(t *testing.T) {
	client := recorded(t, fake.NewClientset())
	rc := config.Runner{Name: "r1", URL: "https://gitlab.example.com", Kubernetes: config.Kubernetes{Namespace: "ci", HelperImage: "helper:1"}}
	k, err := NewKubernetes(rc, Options{Client: client, Logs: &fakeLogs{}, SweepInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case <-k.swept:
	case <-ctx.Done():
		t.Fatal("the sweep at start did not end")
	}
	// Left behind after the sweep at start.
	if _, err := direct(client).CoreV1().Pods("ci").Create(ctx, finishedPod("kr-job-1", time.Hour), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "kr-job-2", Namespace: "ci", Labels: RunnerSelector("r1"),
		CreationTimestamp: metav1.NewTime(time.Now().Add(-time.Hour))}}
	if _, err := direct(client).CoreV1().Secrets("ci").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for {
		_, perr := direct(client).CoreV1().Pods("ci").Get(ctx, "kr-job-1", metav1.GetOptions{})
		_, serr := direct(client).CoreV1().Secrets("ci").Get(ctx, "kr-job-2", metav1.GetOptions{})
		if apierrors.IsNotFound(perr) && apierrors.IsNotFound(serr) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("not swept: pod %v, secret %v", perr, serr)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestSweepSparesLiveJobs: a sweep while jobs run leaves the pods of this process's jobs,
// the pods whose job just ended (their Run is still waiting for the shipper) and the pods
// whose job nobody reported yet (a runner adopts them) alone.
func TestSweepSparesLiveJobs(t *testing.T) {
	h := newHarness(t, time.Minute)
	ctx := context.Background()
	for _, p := range []*corev1.Pod{
		finishedPod("ours", time.Hour),         // a Run of this process has not deleted it yet
		finishedPod("just-ended", time.Second), // another replica's Run is reading its log
		finishedPod("left", 2*finishedPodAge),  // nobody's
		unreportedPod("unreported", 2*finishedPodAge),
		unreportedPod("abandoned", 2*unreportedPodAge),
	} {
		if _, err := direct(h.client).CoreV1().Pods("ci").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	h.exec.feeds.subscribe("ours")
	deadline := time.Now().Add(10 * time.Second)
	for n := 0; n < 5; {
		pods, _ := h.exec.pods.List(labels.Everything())
		if n = len(pods); time.Now().After(deadline) {
			t.Fatal("the informer did not see the pods")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := h.exec.Sweep(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	pods, err := direct(h.client).CoreV1().Pods("ci").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, p := range pods.Items {
		left = append(left, p.Name)
	}
	if want := []string{"just-ended", "ours", "unreported"}; !slices.Equal(left, want) {
		t.Errorf("pods after the sweep = %v, want %v", left, want)
	}
}
