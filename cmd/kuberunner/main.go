// Command kuberunner is a Kubernetes-native GitLab CI runner. This package only parses flags
// and wires packages together; behaviour lives in the packages it calls.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v3"
)

// Set at build time with -ldflags "-X main.version=... -X main.revision=...".
var (
	version  = "dev"
	revision = "unknown"
)

func main() {
	app := newApp(os.Stdout, os.Stderr)
	if err := app.Run(context.Background(), os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "kuberunner: %v\n", err)
		os.Exit(exitCode(err))
	}
}

// exitCode is 1 for every failure unless the error carries its own code (cli.Exit).
func exitCode(err error) int {
	var ec cli.ExitCoder
	if errors.As(err, &ec) && ec.ExitCode() != 0 {
		return ec.ExitCode()
	}
	return 1
}

func newApp(stdout, stderr io.Writer) *cli.Command {
	return keepCommas(&cli.Command{
		Name:    "kuberunner",
		Usage:   "a GitLab CI runner that runs every job as a Kubernetes pod",
		Version: version,
		Description: `kuberunner registers with GitLab like gitlab-runner, polls for jobs and runs each job as
one pod: the job image, services as sidecars, artifacts, caches and GitLab's timeout and
cancel semantics. Configuration lives in one YAML file (--config).

Every flag can also be set through the environment variable shown beside it
(KUBERUNNER_*), which suits a Kubernetes Deployment.`,
		Writer:    stdout,
		ErrWriter: stderr,
		// Errors are returned to main (and to tests) instead of exiting inside the library.
		ExitErrHandler: func(context.Context, *cli.Command, error) {},
		Commands: []*cli.Command{
			runCommand(),
			registerCommand(),
			verifyCommand(),
			unregisterCommand(),
			listCommand(),
			pipelineCommand(),
			versionCommand(),
			stepCommand(),
			buildCommand(),
			tagCommand(),
		},
	})
}

// keepCommas turns off urfave/cli's splitting of repeatable flags on commas, for cmd and
// every command under it (the setting is per command): a value such as --var KEY=a,b is one
// value. A flag whose value is a list by design splits it itself (register --tag-list).
func keepCommas(cmd *cli.Command) *cli.Command {
	cmd.DisableSliceFlagSeparator = true
	for _, sub := range cmd.Commands {
		keepCommas(sub)
	}
	return cmd
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version, revision and Go version",
		Action: func(_ context.Context, cmd *cli.Command) error {
			_, err := fmt.Fprint(cmd.Root().Writer, versionText())
			return err
		},
	}
}
