package kubectlplugin

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kuberunner/kuberunner/executor/jobpod"
)

func runnerPod(name string, ready bool) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kuberunner", Labels: map[string]string{"app.kubernetes.io/name": "kuberunner"}},
		Spec:       corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "kuberunner"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "kuberunner", Ready: ready, State: running}}},
	}
}

// replicaLease is a Lease as the executor's heartbeat writes it (executor/lease.go).
func replicaLease(holder string, renewed time.Duration) *coordinationv1.Lease {
	at := metav1.NewMicroTime(now.Add(-renewed))
	seconds := int32(15)
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "kuberunner-k8s-runner-1-" + holder, Namespace: "kuberunner", Labels: map[string]string{
			jobpod.LabelManagedBy: jobpod.ManagedBy, jobpod.LabelRunner: "k8s-runner-1", jobpod.LabelManager: holder}},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &seconds, RenewTime: &at, AcquireTime: &at},
	}
}

// Three replicas: one ready, one whose health answers 503, and one that died (its Lease
// expired, its pod gone). The health of the last running one is forbidden to the user.
func runnerObjects() []runtime.Object {
	return []runtime.Object{
		runnerPod("kuberunner-7d9f-aaaaa", true), replicaLease("kuberunner-7d9f-aaaaa", 2*time.Second),
		runnerPod("kuberunner-7d9f-bbbbb", false), replicaLease("kuberunner-7d9f-bbbbb", 4*time.Second),
		replicaLease("kuberunner-6c5e-zzzzz", 3*time.Minute),
		runnerPod("kuberunner-7d9f-ccccc", true),
	}
}

func healthReactor(tp testPlugin) {
	tp.client.PrependProxyReactor("pods", func(a k8stesting.Action) (bool, rest.ResponseWrapper, error) {
		pa := a.(k8stesting.ProxyGetAction)
		if pa.GetPort() != healthPort || pa.GetPath() != healthPath {
			return true, fakeResponse{err: errors.New("unexpected proxy request " + pa.GetPort() + pa.GetPath())}, nil
		}
		switch pa.GetName() {
		case "kuberunner-7d9f-aaaaa":
			return true, fakeResponse{body: []byte("ok")}, nil
		case "kuberunner-7d9f-bbbbb":
			err := apierrors.NewGenericServerResponse(http.StatusServiceUnavailable, "get", schema.GroupResource{Resource: "pods"}, pa.GetName(), "", 0, true)
			return true, fakeResponse{body: []byte("shutting down\n"), err: err}, nil
		}
		return true, fakeResponse{err: apierrors.NewForbidden(schema.GroupResource{Resource: "pods/proxy"}, pa.GetName(), errors.New("no"))}, nil
	})
}

func TestRunners(t *testing.T) {
	for _, tc := range []struct{ golden, output string }{
		{"runners.golden", OutputTable},
		{"runners-wide.golden", OutputWide},
		{"runners-json.golden", OutputJSON},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			p := newTestPlugin("kuberunner", runnerObjects()...)
			healthReactor(p)
			if err := p.Runners(context.Background(), tc.output); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tc.golden, p.out.String())
		})
	}
}

func TestLeaseExpired(t *testing.T) {
	fresh, stale := replicaLease("a", 14*time.Second), replicaLease("b", 16*time.Second)
	noRenewal := replicaLease("c", 0)
	noRenewal.Spec.RenewTime = nil
	for _, tc := range []struct {
		l    *coordinationv1.Lease
		want bool
	}{{fresh, false}, {stale, true}, {noRenewal, true}} {
		if got := leaseExpired(tc.l, now); got != tc.want {
			t.Errorf("%s: leaseExpired = %v, want %v", *tc.l.Spec.HolderIdentity, got, tc.want)
		}
	}
}

// No replicas: a note for people, an empty list (not null) for scripts.
func TestRunnersNone(t *testing.T) {
	p := newTestPlugin("elsewhere", runnerObjects()...)
	if err := p.Runners(context.Background(), OutputJSON); err != nil {
		t.Fatal(err)
	}
	if p.out.String() != "[]\n" {
		t.Errorf("JSON = %q, want []", p.out)
	}
	p.out.Reset()
	if err := p.Runners(context.Background(), OutputTable); err != nil {
		t.Fatal(err)
	}
	if p.out.Len() != 0 || p.errOut.String() != "No kuberunner runner pods or Leases in namespace \"elsewhere\".\n" {
		t.Errorf("out %q, errOut %q", p.out, p.errOut)
	}
}
