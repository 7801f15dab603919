package e2eutil

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	watchtools "k8s.io/client-go/tools/watch"
)

// RESTConfig loads Kubeconfig().
func RESTConfig() (*rest.Config, error) {
	path := Kubeconfig()
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", path, err)
	}
	return cfg, nil
}

// Client is a clientset for the test cluster; the test fails at once when there is none.
func Client(t testing.TB) kubernetes.Interface {
	t.Helper()
	cfg, err := RESTConfig()
	if err != nil {
		t.Fatalf("%v (bring the local cluster up with e2e/cluster/cluster up, or set KUBECONFIG)", err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("client for %s: %v", cfg.Host, err)
	}
	return c
}

// Namespace creates a namespace for one test and deletes it, with all it holds, at cleanup.
func Namespace(t testing.TB, c kubernetes.Interface) string {
	t.Helper()
	ns, err := c.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "kr-e2e-", Labels: map[string]string{"kuberunner.dev/e2e": "true"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() {
		if os.Getenv("KR_E2E_KEEP_NAMESPACES") != "" {
			t.Logf("keeping namespace %s", ns.Name)
			return
		}
		err := c.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
		if err != nil {
			t.Errorf("delete namespace %s: %v", ns.Name, err)
		}
	})
	// Pods are refused until the controller manager has made the namespace's default service account.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lw := cache.NewListWatchFromClient(c.CoreV1().RESTClient(), "serviceaccounts", ns.Name, fields.OneTermEqualSelector("metadata.name", "default"))
	_, err = watchtools.UntilWithSync(ctx, lw, &corev1.ServiceAccount{}, nil, func(ev watch.Event) (bool, error) {
		return ev.Type != watch.Deleted, nil
	})
	if err != nil {
		t.Fatalf("wait for the default service account of %s: %v", ns.Name, err)
	}
	return ns.Name
}

// WaitPod watches pod ns/name until done says so, the context ends, or done fails; it returns
// the pod as last seen.
func WaitPod(ctx context.Context, c kubernetes.Interface, ns, name string, done func(*corev1.Pod) (bool, error)) (*corev1.Pod, error) {
	lw := cache.NewListWatchFromClient(c.CoreV1().RESTClient(), "pods", ns, fields.OneTermEqualSelector("metadata.name", name))
	var last *corev1.Pod
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, nil, func(ev watch.Event) (bool, error) {
		pod, ok := ev.Object.(*corev1.Pod)
		if !ok {
			return false, nil
		}
		if ev.Type == watch.Deleted {
			return false, fmt.Errorf("pod %s/%s was deleted", ns, name)
		}
		last = pod
		return done(pod)
	})
	if err != nil {
		return last, fmt.Errorf("wait for pod %s/%s: %w (%s)", ns, name, err, describe(last))
	}
	return last, nil
}

// Succeeded is a WaitPod condition: the pod succeeded; a failed pod is an error.
func Succeeded(pod *corev1.Pod) (bool, error) {
	switch pod.Status.Phase {
	case corev1.PodSucceeded:
		return true, nil
	case corev1.PodFailed:
		return false, fmt.Errorf("pod failed")
	}
	return false, nil
}

// Running is a WaitPod condition: every container is ready; a finished pod is an error.
func Running(pod *corev1.Pod) (bool, error) {
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed:
		return false, fmt.Errorf("pod ended (%s) before it was ready", pod.Status.Phase)
	case corev1.PodRunning:
		for _, cond := range pod.Status.Conditions {
			if cond.Type == corev1.PodReady {
				return cond.Status == corev1.ConditionTrue, nil
			}
		}
	}
	return false, nil
}

// describe summarises a pod's state for an error message: phase and each container's state.
func describe(pod *corev1.Pod) string {
	if pod == nil {
		return "pod not seen"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "phase %s", pod.Status.Phase)
	statuses := append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
	for _, st := range statuses {
		switch s := st.State; {
		case s.Waiting != nil:
			fmt.Fprintf(&b, "; %s waiting: %s %s", st.Name, s.Waiting.Reason, s.Waiting.Message)
		case s.Terminated != nil:
			fmt.Fprintf(&b, "; %s exited %d: %s", st.Name, s.Terminated.ExitCode, s.Terminated.Reason)
		case s.Running != nil:
			fmt.Fprintf(&b, "; %s running", st.Name)
		}
	}
	return b.String()
}

// Logs returns a container's whole log.
func Logs(ctx context.Context, c kubernetes.Interface, ns, pod, container string) (string, error) {
	raw, err := c.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container}).DoRaw(ctx)
	if err != nil {
		return "", fmt.Errorf("logs of %s/%s %s: %w", ns, pod, container, err)
	}
	return string(raw), nil
}

// Kubectl runs kubectl ($KR_KUBECTL, else the one on PATH) against Kubeconfig() and returns
// its standard output; the error carries its standard error.
func Kubectl(ctx context.Context, args ...string) (string, error) {
	bin := os.Getenv("KR_KUBECTL")
	if bin == "" {
		bin = "kubectl"
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", Kubeconfig()}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
