//go:build e2e

package e2e

import (
	"archive/zip"
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/jobspec"
)

const maskedValue = "s3cr3t-masked-v4lue"

func TestExecutorFullJobSucceeds(t *testing.T) {
	s := newExecStack(t, nil)
	job := s.job("full",
		"echo masked=$MY_SECRET",
		"echo file=$(cat $MY_FILE)",
		"wget -qO- http://web:8080/ | sed 's/^/web says: /'",
		"wget -qO- http://localhost:8080/ | sed 's/^/localhost says: /'",
		"mkdir -p out && echo artifact-content > out/result.txt",
	)
	job.Image.Name = s.images.Busybox // wget; the debian-git image has none
	job.Variables = append(job.Variables,
		jobspec.Variable{Key: "MY_SECRET", Value: maskedValue, Masked: true},
		jobspec.Variable{Key: "MY_FILE", Value: "file-variable-content", File: true, Public: true},
	)
	job.Steps = []jobspec.Step{
		{Name: jobspec.StepScript, Script: append([]string{"echo before-script-ran"}, job.Steps[0].Script...), Timeout: 300, When: jobspec.WhenOnSuccess},
		{Name: jobspec.StepAfterScript, Script: []string{"echo after-script-ran"}, Timeout: 60, When: jobspec.WhenAlways},
	}
	job.Services = []jobspec.Image{{
		Name: s.images.Busybox, Alias: "web",
		Entrypoint: []string{"sh", "-c"},
		Command:    []string{"mkdir -p /tmp/www && echo hello-from-web > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"},
	}}
	job.Artifacts = []jobspec.Artifact{{Name: "out", Paths: []string{"out/"}, When: jobspec.WhenOnSuccess, ArtifactType: "archive", ArtifactFormat: "zip"}}
	id := s.srv.Enqueue(job, nil)

	// While it runs, remember the pod spec and events: the masked value must be in neither.
	rec := s.finish(t, id, 3*time.Minute)
	trace := string(rec.Trace)
	if rec.Status != coordinator.StatusSuccess {
		t.Fatalf("want success, got %s %s\ntrace:\n%s", rec.Status, rec.FailureReason, trace)
	}
	for _, want := range []string{
		`Preparing the "kubernetes" executor`, "Using Kubernetes namespace: " + s.ns,
		"section_start:", "step_script", "before-script-ran", "after-script-ran",
		"web says: hello-from-web", "localhost says: hello-from-web",
		"file=file-variable-content", "masked=[MASKED]",
	} {
		if !strings.Contains(trace, want) {
			t.Errorf("trace lacks %q:\n%s", want, trace)
		}
	}
	if strings.Contains(trace, maskedValue) || strings.Contains(s.logs.String(), maskedValue) {
		t.Errorf("the masked value appears in the trace or the runner log")
	}
	events, err := s.client.CoreV1().Events(s.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events.Items {
		if strings.Contains(ev.Message, maskedValue) {
			t.Errorf("event %s shows the masked value", ev.Name)
		}
	}
	if len(rec.Artifacts) != 1 {
		t.Fatalf("want one artifact upload, got %d", len(rec.Artifacts))
	}
	zr, err := zip.OpenReader(rec.Artifacts[0].Path)
	if err != nil {
		t.Fatalf("artifact archive: %v", err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if !strings.Contains(strings.Join(names, " "), "out/result.txt") {
		t.Errorf("artifact archive holds %v, want out/result.txt", names)
	}
	s.assertNoJobObjects(t, id)
}
