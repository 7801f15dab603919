//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/jobspec"
)

// TestExecutorSecretsNeverInContainerLogs: masked values printed directly, split across two
// writes, from a file variable and in after_script are masked at the source: absent from
// `kubectl logs` of every container of the job pod and from the kubelet's log files on the
// node, read while the pod still runs, and from the trace.
func TestExecutorSecretsNeverInContainerLogs(t *testing.T) {
	s := newExecStack(t, nil)
	const fileSecret = "f1le-s3cr3t-v4lue-9q"
	job := s.job("container-logs",
		`echo "direct=$MY_SECRET"`,
		`printf 'split=%s' "${MY_SECRET:0:7}"; sleep 0.3; printf '%s\n' "${MY_SECRET:7}"`,
		`echo "file=$(cat "$KEY_FILE")"`,
	)
	job.Steps = append(job.Steps, jobspec.Step{Name: jobspec.StepAfterScript, Timeout: 60, When: jobspec.WhenAlways,
		Script: []string{`echo "after=$MY_SECRET"`, `echo AFTER-DONE`, `sleep 8`}})
	job.Variables = append(job.Variables,
		jobspec.Variable{Key: "MY_SECRET", Value: maskedValue, Masked: true},
		jobspec.Variable{Key: "KEY_FILE", Value: fileSecret, Masked: true, File: true},
	)
	id := s.srv.Enqueue(job, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := s.srv.WaitFor(ctx, id, func(r coordinator.JobRecord) bool { return bytes.Contains(r.Trace, []byte("AFTER-DONE")) }); err != nil {
		t.Fatalf("after_script did not run: %v", err)
	}
	secrets := map[string]string{"masked value": maskedValue, "masked file variable": fileSecret}
	absent := func(where string, b []byte) {
		t.Helper()
		for what, v := range secrets {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("the %s appears in %s", what, where)
			}
		}
	}

	// The pod sleeps in after_script: its containers' logs are all there.
	pod, err := s.client.CoreV1().Pods(s.ns).Get(ctx, fmt.Sprintf("kr-job-%d", id), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The kubelet may still report the build container as initializing for a moment
	// after it printed: read until its log has the after_script line.
	var build []byte
	for deadline := time.Now().Add(20 * time.Second); !bytes.Contains(build, []byte("after=")) && time.Now().Before(deadline); {
		build = containerLog(ctx, t, s, pod.Name, "build")
		time.Sleep(500 * time.Millisecond)
	}
	absent("kubectl logs of container build", build)
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		if c.Name != "build" {
			absent("kubectl logs of container "+c.Name, containerLog(ctx, t, s, pod.Name, c.Name))
		}
	}
	for _, want := range []string{"direct=[MASKED]", "split=[MASKED]", "file=[MASKED]", "after=[MASKED]"} {
		if !bytes.Contains(build, []byte(want)) {
			t.Errorf("the build container's log lacks %q: the check above proves nothing\n%s", want, build)
		}
	}
	files, err := filepath.Glob(filepath.Join("/var/log/pods", s.ns+"_"+pod.Name+"_*", "*", "*.log"))
	if err != nil || len(files) == 0 {
		t.Errorf("no kubelet log files of the pod under /var/log/pods (%v)", err)
	}
	masked := false
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Errorf("read %s: %v", f, err)
		}
		absent("the node's log file "+f, b)
		masked = masked || bytes.Contains(b, []byte("after=[MASKED]"))
	}
	if !masked {
		t.Errorf("no node log file of the pod holds the masked after_script line: the check above proves nothing (%v)", files)
	}

	rec := s.finish(t, id, 2*time.Minute)
	if rec.Status != coordinator.StatusSuccess {
		t.Fatalf("want success, got %s %s\ntrace:\n%s", rec.Status, rec.FailureReason, rec.Trace)
	}
	absent("the trace", rec.Trace)
	absent("the runner log", []byte(s.logs.String()))
	t.Logf("checked %d containers' logs and %d node log files", len(pod.Spec.InitContainers)+len(pod.Spec.Containers), len(files))
}

// containerLog is `kubectl logs` of one container of the pod; nil when it cannot be read.
func containerLog(ctx context.Context, t *testing.T, s *execStack, pod, container string) []byte {
	t.Helper()
	rc, err := s.client.CoreV1().Pods(s.ns).GetLogs(pod, &corev1.PodLogOptions{Container: container}).Stream(ctx)
	if err != nil {
		t.Logf("logs of container %s: %v", container, err)
		return nil
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Errorf("read logs of container %s: %v", container, err)
	}
	return b
}
