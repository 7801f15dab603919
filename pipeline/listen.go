package pipeline

import (
	"fmt"
	"net"
	"net/url"
	"time"
)

// checkListen refuses a loopback --listen when the cluster's API server (apiServer, its
// URL; "" when unknown) is not on loopback: the pods run on the cluster and cannot reach
// this machine's loopback, so the first job would fail with a git connection error far
// from the cause. The error names the address pods would need: this machine's address on
// the route to the API server.
func checkListen(listen net.Addr, apiServer string) error {
	tcp, ok := listen.(*net.TCPAddr)
	if !ok || !tcp.IP.IsLoopback() || apiServer == "" {
		return nil
	}
	u, err := url.Parse(apiServer)
	if err != nil || u.Hostname() == "" {
		return nil
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	// Dialling UDP sends nothing: it only asks the routing table for the source address.
	conn, err := (&net.Dialer{Timeout: 2 * time.Second}).Dial("udp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return nil // the executor reports an unreachable API server better
	}
	defer conn.Close()
	remote, local := conn.RemoteAddr().(*net.UDPAddr), conn.LocalAddr().(*net.UDPAddr)
	if remote.IP.IsLoopback() {
		return nil // a cluster on this machine's loopback: nothing tells what pods reach
	}
	return fmt.Errorf("--listen %s is a loopback address, which the job pods cannot reach (the cluster's API server is at %s): "+
		"listen on this machine's address on the route to the cluster, --listen %s",
		tcp, apiServer, net.JoinHostPort(local.IP.String(), "0"))
}
