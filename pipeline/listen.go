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
	u, err := url.Parse(apiServer)
	if apiServer == "" || err != nil || u.Hostname() == "" {
		return nil, false
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	// Dialling UDP sends nothing: it only asks the routing table for the source address.
	conn, err := (&net.Dialer{Timeout: 2 * time.Second}).Dial("udp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return nil, false
	}
	defer conn.Close()
	remote, local := conn.RemoteAddr().(*net.UDPAddr), conn.LocalAddr().(*net.UDPAddr)
	if remote.IP.IsLoopback() {
		return nil, false
	}
	return local.IP, true
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
