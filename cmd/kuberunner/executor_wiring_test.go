package main

import (
	"os"
	"testing"
)

// TestReplicaIdentity: the pod's name from the downward API, else the host name.
func TestReplicaIdentity(t *testing.T) {
	t.Setenv("KUBERUNNER_POD_NAME", "kuberunner-7d9f8-aaaaa")
	if got := replicaIdentity(); got != "kuberunner-7d9f8-aaaaa" {
		t.Errorf("with KUBERUNNER_POD_NAME: %q", got)
	}
	t.Setenv("KUBERUNNER_POD_NAME", "")
	host, err := os.Hostname()
	if err != nil {
		t.Skip(err)
	}
	if got := replicaIdentity(); got != host {
		t.Errorf("without KUBERUNNER_POD_NAME: %q, want the host name %q", got, host)
	}
}
