//go:build e2e

package manifests_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/coordinator/coordinatortest"
	"github.com/kuberunner/kuberunner/e2e/e2eutil"
	"github.com/kuberunner/kuberunner/executor"
	"github.com/kuberunner/kuberunner/jobspec"
	"github.com/kuberunner/kuberunner/runner"
)

// TestPrometheusScrapesJobsOnCluster is TestPrometheusScrapesRunner with real jobs: the
// runner's Kubernetes executor runs a job that succeeds, one that fails and one cancelled
// in GitLab as pods on the local cluster, and a real Prometheus then answers every
// dashboard query and evaluates every rule from what the runner exported.
func TestPrometheusScrapesJobsOnCluster(t *testing.T) {
	bin := needTool(t, "prometheus")
	images, err := e2eutil.LoadImages()
	if err != nil {
		t.Fatal(err)
	}
	ns := e2eutil.Namespace(t, e2eutil.Client(t))
	srv, err := coordinatortest.New(coordinator.Options{LongPoll: 200 * time.Millisecond, TraceUpdateInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	url := e2eutil.ServeOnNode(t, srv, func() { srv.Close() })
	rc := config.Runner{Name: liveRunner, URL: url, Limit: 3, RequestConcurrency: 1, OutputLimit: 4096, Executor: "kubernetes",
		Kubernetes: config.Kubernetes{Kubeconfig: e2eutil.Kubeconfig(), Namespace: ns, HelperImage: images.Kuberunner, Image: images.Busybox,
			GracefulCancelTimeout: config.Duration(10 * time.Second)}}
	scripts := map[string]string{"ok": "echo fine", "fail": "echo broken; exit 3", "cancel": "while true; do echo waiting; sleep 1; done"}
	newJob := func(name string) jobspec.Job {
		return jobspec.Job{
			JobInfo:    jobspec.JobInfo{Name: name, Stage: "test", ProjectID: 1, ProjectFullPath: "group/app", PipelineID: 1},
			RunnerInfo: jobspec.RunnerInfo{Timeout: 300},
			Variables:  jobspec.Variables{{Key: "GIT_STRATEGY", Value: "none", Public: true}},
			Steps:      []jobspec.Step{{Name: jobspec.StepScript, Script: []string{scripts[name]}, Timeout: 300, When: jobspec.WhenOnSuccess}},
		}
	}
	newExec := func(rc config.Runner) (runner.Executor, error) {
		return executor.NewKubernetes(rc, executor.Options{Logger: slog.New(slog.DiscardHandler)})
	}
	checkDashboardLive(t, bin, runJobsWith(t, srv, rc, newExec, newJob, 5*time.Minute))
}
