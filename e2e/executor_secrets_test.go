//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/jobspec"
)

// jobObjects keeps every version of the job's pod the informer delivered while it existed,
// as JSON, and the job's Secret.
type jobObjects struct {
	mu     sync.Mutex
	pods   [][]byte
	secret *corev1.Secret
	err    error
}

func (o *jobObjects) addPod(obj any) {
	b, err := json.Marshal(obj)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pods, o.err = append(o.pods, b), errors.Join(o.err, err)
}

func (o *jobObjects) addSecret(obj any) {
	if s, ok := obj.(*corev1.Secret); ok {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.secret = s
	}
}

// TestExecutorSecretsStayInTheSecret: the masked value, the job token and a variable that is
// neither public nor masked reach the script through the job's Secret and appear in no
// version of the pod, no event, not the trace and not the runner log.
func TestExecutorSecretsStayInTheSecret(t *testing.T) {
	s := newExecStack(t, nil)
	objs := &jobObjects{}
	s.watchJobObjects(t,
		cache.ResourceEventHandlerFuncs{AddFunc: objs.addPod, UpdateFunc: func(_, obj any) { objs.addPod(obj) }},
		cache.ResourceEventHandlerFuncs{AddFunc: objs.addSecret})

	const (
		token   = "glcbt-e2e-job-token-7f3a9c"
		private = "pr1vate-project-v4lue"
	)
	job := s.job("secrets",
		"echo masked=$MY_SECRET",
		"echo private-length=${#PRIVATE_VAR}",
		"echo token-length=${#CI_JOB_TOKEN}",
	)
	job.Image.Name = s.images.Busybox
	job.Token = token
	job.Variables = append(job.Variables,
		jobspec.Variable{Key: "CI_JOB_TOKEN", Value: token, Masked: true},
		jobspec.Variable{Key: "MY_SECRET", Value: maskedValue, Masked: true},
		jobspec.Variable{Key: "PRIVATE_VAR", Value: private},
	)
	// A service gets secret variables too, by reference to the Secret.
	job.Services = []jobspec.Image{{
		Name: s.images.Busybox, Alias: "svc",
		Entrypoint: []string{"sh", "-c"},
		Command:    []string{"mkdir -p /tmp/www && exec httpd -f -p 8080 -h /tmp/www"},
	}}
	id := s.srv.Enqueue(job, nil)
	rec := s.finish(t, id, 2*time.Minute)
	trace := string(rec.Trace)
	if rec.Status != coordinator.StatusSuccess {
		t.Fatalf("want success, got %s %s\ntrace:\n%s", rec.Status, rec.FailureReason, trace)
	}
	// The script got every value.
	for _, want := range []string{"masked=[MASKED]", "private-length=21", "token-length=26"} {
		if !strings.Contains(trace, want) {
			t.Errorf("trace lacks %q:\n%s", want, trace)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	waitNoJobObjects(ctx, t, s, id)

	secrets := map[string]string{"masked value": maskedValue, "job token": token, "non-public variable": private}
	absent := func(where string, b []byte) {
		t.Helper()
		for what, v := range secrets {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("the %s appears in %s", what, where)
			}
		}
	}
	absent("the trace", rec.Trace)
	absent("the runner log", []byte(s.logs.String()))

	objs.mu.Lock()
	pods, secret, err := objs.pods, objs.secret, objs.err
	objs.mu.Unlock()
	if err != nil {
		t.Fatalf("encode pod: %v", err)
	}
	if len(pods) == 0 {
		t.Fatal("the job's pod was never seen")
	}
	for i, p := range pods {
		absent(fmt.Sprintf("version %d of the pod", i+1), p)
	}
	// A public value is in the encoded pod, so a secret one would have been found there.
	if !bytes.Contains(pods[len(pods)-1], []byte(`"value":"group/app"`)) {
		t.Errorf("the pod lacks the public CI_PROJECT_PATH: the check above proves nothing\n%s", pods[len(pods)-1])
	}

	// The message check of TestExecutorFullJobSucceeds, widened to every field of every
	// event and to the other two values.
	events, err := s.client.CoreV1().Events(s.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(events.Items) == 0 {
		t.Error("no events in the namespace: nothing was checked")
	}
	for _, ev := range events.Items {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		absent("event "+ev.Reason+" "+ev.Name, b)
	}

	if secret == nil {
		t.Fatal("the job's Secret was never seen")
	}
	var data []byte
	for _, v := range secret.Data {
		data = append(data, v...)
	}
	for what, v := range secrets {
		if !bytes.Contains(data, []byte(v)) {
			t.Errorf("the job's Secret does not hold the %s", what)
		}
	}
	t.Logf("checked %d versions of the pod and %d events", len(pods), len(events.Items))
}
