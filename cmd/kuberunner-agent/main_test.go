package main

import (
	"bytes"
	"testing"

	"github.com/kuberunner/kuberunner/internal/climain"
)

// runCLI runs the app as main does and returns its output and the process exit code.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = climain.Run(newApp(&out, &errOut), append([]string{"kuberunner"}, args...), &errOut)
	return out.String(), errOut.String(), code
}
