package metrics_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuberunner/kuberunner/metrics"
)

func TestHealth(t *testing.T) {
	notReady := func() error { return errors.New("coordinator unreachable") }
	ready := func() error { return nil }
	tests := []struct {
		name     string
		method   string
		path     string
		ready    func() error
		wantCode int
		wantBody string
	}{
		{"live", http.MethodGet, "/health/live", notReady, http.StatusOK, "ok\n"},
		{"live answers HEAD", http.MethodHead, "/health/live", nil, http.StatusOK, ""},
		{"ready", http.MethodGet, "/health/ready", ready, http.StatusOK, "ok\n"},
		{"nil ready func is ready", http.MethodGet, "/health/ready", nil, http.StatusOK, "ok\n"},
		{"not ready", http.MethodGet, "/health/ready", notReady, http.StatusServiceUnavailable, "not ready: coordinator unreachable\n"},
		{"wrong method", http.MethodPost, "/health/live", nil, http.StatusMethodNotAllowed, "Method Not Allowed\n"},
		{"unknown path", http.MethodGet, "/debug/pprof/", nil, http.StatusNotFound, "404 page not found\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(metrics.Handler(prometheus.NewRegistry(), tt.ready))
			t.Cleanup(srv.Close)
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", tt.method, tt.path, err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			got := struct {
				Code int
				Body string
			}{resp.StatusCode, string(body)}
			want := struct {
				Code int
				Body string
			}{tt.wantCode, tt.wantBody}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", tt.method, tt.path, diff)
			}
		})
	}
}

func TestServeStopsWithContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- metrics.Serve(ctx, ln, metrics.Handler(prometheus.NewRegistry(), nil)) }()

	url := "http://" + ln.Addr().String() + "/health/live"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context was cancelled")
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("listener still accepts connections after Serve returned")
	}
}

func TestServeReportsListenerFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	err = metrics.Serve(context.Background(), ln, http.NotFoundHandler())
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve on a closed listener = %v, want an error", err)
	}
}
