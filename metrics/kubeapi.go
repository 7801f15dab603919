package metrics

import (
	"context"
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	clientmetrics "k8s.io/client-go/tools/metrics"
)

// kubeRequests counts every request client-go sends to the API server, watches included
// (each counted once, when it starts). It shows an operator what the runner costs the
// control plane, and the scale benchmark that requests per job stay flat as jobs grow.
var kubeRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "kuberunner_kube_api_requests_total",
	Help: "Requests to the Kubernetes API server, by HTTP method and status code.",
}, []string{"method", "code"})

var hookOnce sync.Once

// RegisterKubeAPI registers kuberunner_kube_api_requests_total on reg. client-go reports
// requests through one process-wide hook that only the first registration sets, so the
// counter is the process's, whichever registry shows it.
func RegisterKubeAPI(reg prometheus.Registerer) {
	hookOnce.Do(func() {
		clientmetrics.Register(clientmetrics.RegisterOpts{RequestResult: kubeResult{}})
	})
	if err := reg.Register(kubeRequests); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
		panic(err)
	}
}

type kubeResult struct{}

func (kubeResult) Increment(_ context.Context, code, method, _ string) {
	kubeRequests.WithLabelValues(method, code).Inc()
}
