package main

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/coordinator"
)

// measureIdle runs `kuberunner run` with one runner against an in-process coordinator (job
// requests long-poll and find nothing) and a fake API server (the executor's informer,
// Lease and sweeps get empty answers), and measures it after it has idled for idle;
// verbose copies its log to stderr.
func measureIdle(bin, dir string, idle time.Duration, verbose bool) (memory, error) {
	coord, err := coordinator.New(coordinator.Options{ArtifactsDir: filepath.Join(dir, "artifacts")})
	if err != nil {
		return memory{}, err
	}
	gitlab := httptest.NewServer(coord)
	defer gitlab.Close()
	defer coord.Close() // first: it answers parked job requests, so that Close does not wait
	api := newFakeAPI()
	kube := httptest.NewServer(api)
	defer kube.Close()
	defer api.close()

	cfg := config.Default()
	cfg.ListenAddress = "127.0.0.1:0" // as in the Deployment: metrics and health served
	r := config.DefaultRunner()
	r.Name, r.URL = "rss", gitlab.URL
	r.Token = coord.AddRunner(coordinator.RunnerSpec{RunUntagged: true})
	r.Kubernetes.Kubeconfig = filepath.Join(dir, "kubeconfig")
	r.Kubernetes.Namespace = "ci"
	cfg.Runners = []config.Runner{r}
	path := filepath.Join(dir, "config.yaml")
	if err := config.Save(path, cfg); err != nil {
		return memory{}, err
	}
	if err := os.WriteFile(r.Kubernetes.Kubeconfig, kubeconfig(kube.URL), 0o600); err != nil {
		return memory{}, err
	}

	p, err := start(bin, "run", "--config", path)
	if err != nil {
		return memory{}, err
	}
	defer p.stop()
	select {
	case <-p.done:
		return memory{}, fmt.Errorf("%s run exited: %s", bin, p.output())
	case <-time.After(idle):
	}
	if api.requests() == 0 || coord.Runners()[0].ContactedAt.IsZero() {
		return memory{}, fmt.Errorf("the runner never called the API server or the coordinator: %s", p.output())
	}
	if verbose {
		fmt.Fprint(os.Stderr, p.output())
	}
	return p.memory()
}

func kubeconfig(server string) []byte {
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: %q}}]
users: [{name: fake, user: {token: fake}}]
contexts: [{name: fake, context: {cluster: fake, user: fake, namespace: ci}}]
current-context: fake
`, server)
}
