// Command kuberunner is a Kubernetes-native GitLab CI runner. This package only parses flags
// and wires packages together; behaviour lives in the packages it calls.
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
		Name:  "kuberunner",
		Usage: "a GitLab CI runner that runs every job as a Kubernetes pod",
		Description: `kuberunner registers with GitLab like gitlab-runner, polls for jobs and runs each job as
one pod: the job image, services as sidecars, artifacts, caches and GitLab's timeout and
cancel semantics. Configuration lives in one YAML file (--config).

Every flag can also be set through the environment variable shown beside it
(KUBERUNNER_*), which suits a Kubernetes Deployment.`,
		Commands: []*cli.Command{
			runCommand(),
			registerCommand(),
			verifyCommand(),
			unregisterCommand(),
			listCommand(),
			pipelineCommand(),
		},
	}, stdout, stderr, version, revision)
}
