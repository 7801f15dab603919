package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// A request through a real client-go clientset is counted by method and code.
func TestKubeAPIRequestsCounted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`))
	}))
	defer srv.Close()
	reg := prometheus.NewRegistry()
	RegisterKubeAPI(reg)
	RegisterKubeAPI(prometheus.NewRegistry()) // a second registry shares the process's counter
	before := count(t, "GET", "404")
	c := kubernetes.NewForConfigOrDie(&rest.Config{Host: srv.URL})
	for range 3 {
		_, _ = c.CoreV1().Pods("ns").Get(t.Context(), "p", metav1.GetOptions{})
	}
	if got := count(t, "GET", "404") - before; got != 3 {
		t.Fatalf("counted %v GETs answered 404, want 3", got)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	if !strings.Contains(strings.Join(names, " "), "kuberunner_kube_api_requests_total") {
		t.Fatalf("the registry does not show the counter: %v", names)
	}
}

func count(t *testing.T, method, code string) float64 {
	t.Helper()
	var m dto.Metric
	if err := kubeRequests.WithLabelValues(method, code).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
