//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/e2e/e2eutil"
	"github.com/kuberunner/kuberunner/executor"
	"github.com/kuberunner/kuberunner/executor/jobpod"
)

// TestRunnerReplicasInCluster installs the runner as operators do, from manifests/base
// (through its one-namespace example) with `kubectl apply -k` (image built from the
// Dockerfile, two replicas, in-cluster credentials and nothing but the base Role, the
// base's NetworkPolicies), and then takes replicas away mid-job:
//   - one replica hangs (SIGSTOP: alive to the kubelet, silent to everyone else) and is
//     then removed; its Lease expires and the other replica adopts its jobs;
//   - `kubectl rollout restart` replaces both replicas while jobs run.
//
// Every job ends reported once, its lines complete and in order, nothing left behind.
func TestRunnerReplicasInCluster(t *testing.T) {
	s := newStackNoRunner(t, func(c *config.Config) {
		c.ShutdownJobs = config.ShutdownLeave
		c.ListenAddress = ":9252"
		c.LogFormat = "json"
		c.Runners[0].Kubernetes.Kubeconfig = "" // in-cluster: the Deployment's ServiceAccount
	}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	installRunner(ctx, t, s, 2)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := e2eutil.Kubectl(context.Background(), "-n", s.ns, "logs", "-l", "app.kubernetes.io/name=kuberunner", "--tail", "200", "--prefix", "--all-containers")
			t.Logf("runner logs:\n%s", out)
		}
	})
	if ids := distinctSystemIDs(s); len(ids) < 2 {
		t.Errorf("the two replicas announced system_ids %v, want two distinct ones", ids)
	}

	// A replica hangs with jobs running.
	first := s.enqueueCounting(t, 4, 40)
	s.waitLine(ctx, t, first, 3)
	managers := s.jobManagers(ctx, t, first)
	victim := managers[0]
	t.Logf("jobs per replica: %v; freezing %s", managers, victim)
	frozen := time.Now()
	freezeReplica(t, victim)
	// Its jobs carry on in their pods; the other replica takes them over once the frozen
	// one's Lease expired, then the frozen pod goes for good.
	s.waitManagedBy(ctx, t, victim)
	t.Logf("the other replica follows the frozen one's jobs %s after the freeze", time.Since(frozen).Round(100*time.Millisecond))
	if _, err := e2eutil.Kubectl(ctx, "-n", s.ns, "delete", "pod", victim, "--grace-period=0", "--force"); err != nil {
		t.Fatal(err)
	}
	s.checkCounting(t, first, 40)

	// A rolling restart while jobs run.
	second := s.enqueueCounting(t, 4, 30)
	s.waitLine(ctx, t, second, 3)
	if _, err := e2eutil.Kubectl(ctx, "-n", s.ns, "rollout", "restart", "deployment/kuberunner"); err != nil {
		t.Fatal(err)
	}
	if _, err := e2eutil.Kubectl(ctx, "-n", s.ns, "rollout", "status", "deployment/kuberunner", "--timeout=5m"); err != nil {
		t.Fatal(err)
	}
	s.checkCounting(t, second, 30)
}

// installRunner applies an overlay of manifests/base into the test namespace: the image the
// cluster built from the Dockerfile, the given replicas, and the stack's configuration as
// the kuberunner-config Secret. The base puts job pods in a namespace of their own; the
// stack's jobs run in the test namespace, so the overlay builds on the base's one-namespace
// example (which drops the jobs' Namespace, as kustomize cannot rename two Namespaces to
// one) and moves that namespace to the test's.
func installRunner(ctx context.Context, t *testing.T, s *execStack, replicas int) {
	t.Helper()
	base := filepath.Join(repoRoot(), "manifests", "examples", "one-namespace")
	dir := t.TempDir()
	// kustomize takes a base outside the overlay's folder only as a relative path.
	base, err := filepath.Rel(dir, base)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := config.Save(cfgPath, s.cfg); err != nil {
		t.Fatal(err)
	}
	kustomization := fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: %s
resources: [%s]
replicas: [{name: kuberunner, count: %d}]
secretGenerator:
  - name: kuberunner-config
    files: [config.yaml]
    options: {disableNameSuffixHash: true}
patches:
  - target: {kind: Deployment, name: kuberunner}
    patch: |
      - op: replace
        path: /spec/template/spec/containers/0/image
        value: %s
`, s.ns, base, replicas, s.images.Kuberunner)
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kustomization), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := e2eutil.Kubectl(ctx, "apply", "-k", dir); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := e2eutil.Kubectl(ctx, "-n", s.ns, "rollout", "status", "deployment/kuberunner", "--timeout=3m"); err != nil {
		t.Fatal(err)
	}
}

// distinctSystemIDs are the runner managers the coordinator has seen.
func distinctSystemIDs(s *execStack) []string {
	var ids []string
	for _, r := range s.srv.Runners() {
		ids = append(ids, r.SystemIDs...)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// enqueueCounting queues n jobs that print "line 1" to "line <lines>", one a second.
func (s *execStack) enqueueCounting(t *testing.T, n, lines int) []int64 {
	t.Helper()
	var ids []int64
	for i := range n {
		script := fmt.Sprintf(`for i in $(seq 1 %d); do echo "line $i"; sleep 1; done`, lines)
		ids = append(ids, s.srv.Enqueue(s.job(fmt.Sprintf("counting-%d", i), script), nil))
	}
	return ids
}

// waitLine waits until every job printed line n.
func (s *execStack) waitLine(ctx context.Context, t *testing.T, ids []int64, n int) {
	t.Helper()
	want := []byte(fmt.Sprintf("line %d\n", n))
	for _, id := range ids {
		if _, err := s.srv.WaitFor(ctx, id, func(r coordinator.JobRecord) bool { return bytes.Contains(r.Trace, want) }); err != nil {
			t.Fatalf("job %d did not print %q: %v", id, want, err)
		}
	}
}

// jobManagers are the replicas whose label the jobs' pods carry, the busiest first.
func (s *execStack) jobManagers(ctx context.Context, t *testing.T, ids []int64) []string {
	t.Helper()
	count := map[string]int{}
	for _, id := range ids {
		pod, err := s.client.CoreV1().Pods(s.ns).Get(ctx, executor.PodName(id), metav1.GetOptions{})
		if err != nil {
			t.Fatalf("job %d's pod: %v", id, err)
		}
		count[pod.Labels[jobpod.LabelManager]]++
	}
	var ms []string
	for m := range count {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b string) int { return count[b] - count[a] })
	return ms
}

// freezeReplica stops the runner process of the replica pod (it runs on this machine: the
// local cluster's node) without telling it, as a hung node would: its Lease goes stale.
func freezeReplica(t *testing.T, pod string) {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, p := range procs {
		env, err := os.ReadFile(p)
		if err != nil || !slices.Contains(strings.Split(string(env), "\x00"), "KUBERUNNER_POD_NAME="+pod) {
			continue
		}
		var pid int
		if _, err := fmt.Sscanf(p, "/proc/%d/environ", &pid); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatalf("stop the runner of %s (pid %d): %v", pod, pid, err)
		}
		return
	}
	t.Fatalf("no process of replica %s on this machine (the test needs the local cluster's node)", pod)
}

// waitManagedBy waits until a runner replica other than gone logs that it adopted the
// jobs gone was running, which it may only do once gone's Lease expired.
func (s *execStack) waitManagedBy(ctx context.Context, t *testing.T, gone string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		pods, err := s.client.CoreV1().Pods(s.ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=kuberunner"})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			if p.Name == gone || p.Status.Phase != corev1.PodRunning {
				continue
			}
			out, _ := e2eutil.Kubectl(ctx, "-n", s.ns, "logs", p.Name)
			if strings.Contains(out, "adopting job pod") {
				return
			}
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("no other replica adopted %s's jobs within 2 minutes", gone)
}

// checkCounting checks each job ended successfully, reported once, with all its lines once
// and in order, and left nothing behind.
func (s *execStack) checkCounting(t *testing.T, ids []int64, lines int) {
	t.Helper()
	want := numbered("line", lines)
	for _, id := range ids {
		rec := s.finish(t, id, 5*time.Minute)
		if rec.Status != coordinator.StatusSuccess {
			t.Errorf("job %d: %s %s; trace ends:\n%s", id, rec.Status, rec.FailureReason, tail(rec.Trace, 1500))
		}
		if n := bytes.Count(rec.Trace, want); n != 1 {
			t.Errorf("job %d: lines 1..%d appear %d times in order, want once:\n%s", id, lines, n, rec.Trace)
		}
		assertReportedOnce(t, rec)
	}
	for _, id := range ids {
		s.assertNoJobObjects(t, id)
	}
}
