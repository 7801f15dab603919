package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kuberunner/kuberunner/internal/climain"
)

// TestAgentServesWhatPodsCall: the pod spec runs `step prepare`, `step ship` and (as
// /kr/bin/kuberunner) `step run`; job scripts call build and tag.
func TestAgentServesWhatPodsCall(t *testing.T) {
	for _, args := range [][]string{
		{"step", "prepare", "--help"}, {"step", "run", "--help"}, {"step", "ship", "--help"},
		{"build", "--help"}, {"tag", "--help"}, {"version"},
	} {
		var out, errOut bytes.Buffer
		if code := climain.Run(newApp(&out, &errOut), append([]string{"kuberunner"}, args...), &errOut); code != 0 {
			t.Errorf("%s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
		}
	}
}
