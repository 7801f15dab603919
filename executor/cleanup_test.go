package executor

import (
	"context"
	"io"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// TestConfirmGone: when the informer missed a deleted pod's end, cleanup asks the API
// server, and only a pod that is still there is an error.
func TestConfirmGone(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "kr-job-7", Namespace: "ci"}}
	if err := confirmGone(recorded(t, fake.NewClientset()), pod); err != nil {
		t.Errorf("confirmGone of a deleted pod = %v, want nil", err)
	}
	err := confirmGone(recorded(t, fake.NewClientset(pod)), pod)
	if err == nil || !strings.Contains(err.Error(), "pod kr-job-7 still exists") {
		t.Errorf("confirmGone of a pod still there = %v, want it to say so", err)
	}
}

// TestAPILogsReadsPodsLog: without Options.Logs, a crashed service's last lines come from
// the API server's pods/log.
func TestAPILogsReadsPodsLog(t *testing.T) {
	c := recorded(t, fake.NewClientset())
	rc, err := apiLogs{c}.Stream(context.Background(), "ci", "kr-job-7", &corev1.PodLogOptions{Container: "svc-0"})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, err := io.ReadAll(rc); err != nil || len(b) == 0 {
		t.Errorf("read log = %q, %v; want the fake's log", b, err)
	}
}
