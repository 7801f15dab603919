package pipeline

import (
	"fmt"
	"net"
	"net/url"
	"time"
)

// defaultListen is where the coordinator listens when --listen is not given: this
// machine's address on the route to the cluster's API server, which pods on that cluster
// can reach when the machine is on their network (a node, a VM beside them); loopback when
// the API server is on loopback or unknown, where nothing tells what pods reach.
func defaultListen(apiServer string) string {
	if ip, ok := routeAddress(apiServer); ok {
		return net.JoinHostPort(ip.String(), "0")
	}
	return "127.0.0.1:0"
}

// routeAddress is this machine's source address towards the API server, if that is not on
// loopback.
func routeAddress(apiServer string) (net.IP, bool) {
	local, onLoopback, ok := route(apiServer)
	return local, ok && !onLoopback
}

// route is this machine's source address towards the API server, and whether the API
// server is on loopback; ok is false when the URL or the route is unknown.
func route(apiServer string) (local net.IP, onLoopback, ok bool) {
	u, err := url.Parse(apiServer)
	if apiServer == "" || err != nil || u.Hostname() == "" {
		return nil, false, false
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	// Dialling UDP sends nothing: it only asks the routing table for the source address.
	conn, err := (&net.Dialer{Timeout: 2 * time.Second}).Dial("udp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return nil, false, false
	}
	defer conn.Close()
	remote := conn.RemoteAddr().(*net.UDPAddr)
	return conn.LocalAddr().(*net.UDPAddr).IP, remote.IP.IsLoopback(), true
}

// checkDefaultListen refuses to choose the listen address when none fits: with the API
// server on loopback (a cluster in Docker, such as kind, or behind a port-forward), the
// route to it tells nothing of what the pods reach, and they cannot reach loopback. An
// unknown API server is left to the executor, which names the kubeconfig problem.
func checkDefaultListen(apiServer string) error {
	if _, onLoopback, ok := route(apiServer); !ok || !onLoopback {
		return nil
	}
	return fmt.Errorf("the cluster's API server is on loopback (%s), so the address of this machine that the job pods reach cannot be told from the route to it, "+
		"and they cannot reach loopback: give --listen ADDRESS:0 with an address of this machine on the pods' network "+
		"(for a cluster in Docker, such as kind, the gateway of its Docker network)", apiServer)
}

// checkListen refuses a loopback --listen when the cluster's API server (apiServer, its
// URL; "" when unknown) is not on loopback: the pods run on the cluster and cannot reach
// this machine's loopback, so the first job would fail with a git connection error far
// from the cause. The error names the address pods would need.
func checkListen(listen net.Addr, apiServer string) error {
	tcp, ok := listen.(*net.TCPAddr)
	if !ok || !tcp.IP.IsLoopback() {
		return nil
	}
	ip, ok := routeAddress(apiServer)
	if !ok {
		return nil // the executor reports an unreachable API server better
	}
	return fmt.Errorf("--listen %s is a loopback address, which the job pods cannot reach (the cluster's API server is at %s): "+
		"listen on this machine's address on the route to the cluster, --listen %s (the default)",
		tcp, apiServer, net.JoinHostPort(ip.String(), "0"))
}
