package pipeline

import (
	"net"
	"strings"
	"testing"
)

// hostIP is an address of this machine off loopback, or the test is skipped.
func hostIP(t *testing.T) net.IP {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skip(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP
		}
	}
	t.Skip("no IPv4 address off loopback")
	return nil
}

func TestCheckListen(t *testing.T) {
	ip := hostIP(t)
	loopback := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 41000}
	remote := "https://" + ip.String() + ":6443"
	tests := []struct {
		name      string
		listen    net.Addr
		apiServer string
		want      string
	}{
		{"loopback, remote cluster", loopback, remote,
			"--listen 127.0.0.1:41000 is a loopback address, which the job pods cannot reach (the cluster's API server is at " + remote +
				"): listen on this machine's address on the route to the cluster, --listen " + ip.String() + ":0"},
		{"default port", loopback, "https://" + ip.String(), "--listen " + ip.String() + ":0"},
		{"routable listen", &net.TCPAddr{IP: ip, Port: 41000}, remote, ""},
		{"cluster on loopback", loopback, "https://127.0.0.1:6443", ""},
		{"unknown cluster", loopback, "", ""},
		{"bad URL", loopback, "://", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkListen(tc.listen, tc.apiServer)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("checkListen = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("checkListen = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestDefaultListen(t *testing.T) {
	ip := hostIP(t)
	for _, tc := range []struct{ apiServer, want string }{
		{"https://" + ip.String() + ":6443", ip.String() + ":0"},
		{"https://127.0.0.1:6443", "127.0.0.1:0"},
		{"", "127.0.0.1:0"},
	} {
		if got := defaultListen(tc.apiServer); got != tc.want {
			t.Errorf("defaultListen(%q) = %q, want %q", tc.apiServer, got, tc.want)
		}
	}
}

// With the API server on loopback no default address fits: Run refuses to choose one.
func TestCheckDefaultListen(t *testing.T) {
	ip := hostIP(t)
	for _, tc := range []struct{ apiServer, want string }{
		{"https://127.0.0.1:6443", "the cluster's API server is on loopback (https://127.0.0.1:6443)"},
		{"https://localhost:6443", "give --listen ADDRESS:0"},
		{"https://" + ip.String() + ":6443", ""},
		{"", ""},
	} {
		err := checkDefaultListen(tc.apiServer)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("checkDefaultListen(%q) = %v, want nil", tc.apiServer, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("checkDefaultListen(%q) = %v, want an error containing %q", tc.apiServer, err, tc.want)
		}
	}
}
