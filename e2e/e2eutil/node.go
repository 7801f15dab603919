package e2eutil

import (
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// NodeIP is where pods reach the machine ($KR_NODE_IP, else the local cluster's node
// address): a coordinator the pods talk to listens there, not on loopback.
func NodeIP() string {
	if ip := os.Getenv("KR_NODE_IP"); ip != "" {
		return ip
	}
	return "10.213.0.1"
}

// ServeOnNode serves h on a free port of NodeIP until the test ends and returns its base
// URL. close runs before the server closes (a coordinator answers its parked requests).
func ServeOnNode(t testing.TB, h http.Handler, close func()) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(NodeIP(), "0"))
	if err != nil {
		t.Fatalf("listen on the node address (KR_NODE_IP): %v", err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	if close != nil {
		t.Cleanup(close)
	}
	return "http://" + ln.Addr().String()
}
