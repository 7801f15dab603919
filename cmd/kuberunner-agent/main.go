// Command kuberunner-agent is the part of kuberunner that runs inside job pods: the steps
// (prepare, run, the trace shipper) and the build and tag commands a job's script calls.
// The helper image holds it beside the runner; prepare installs it in the job container
// as kuberunner (jobpod.Binary), the name scripts use. It is a binary of its own so that
// the runner does not link the BuildKit client. This package only parses flags and wires
// packages together.
package main

import (
	"io"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/kuberunner/kuberunner/internal/climain"
)

// Set at build time with -ldflags "-X main.version=... -X main.revision=...".
var (
	version  = "dev"
	revision = "unknown"
)

func main() { os.Exit(climain.Run(newApp(os.Stdout, os.Stderr), os.Args, os.Stderr)) }

func newApp(stdout, stderr io.Writer) *cli.Command {
	return climain.App(&cli.Command{
		// Named as job scripts call it: kuberunner build, kuberunner tag.
		Name:     "kuberunner",
		Usage:    "kuberunner's agent inside a job pod: the job's steps, image builds and tags",
		Commands: []*cli.Command{stepCommand(), buildCommand(), tagCommand()},
	}, stdout, stderr, version, revision)
}
