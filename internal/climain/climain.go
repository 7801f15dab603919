// Package climain is what kuberunner's two programs share around their commands: the runner
// (cmd/kuberunner) and the in-pod agent (cmd/kuberunner-agent) parse flags alike, exit alike
// and print their version alike. They are two binaries so that the runner, a long-lived
// process, does not link and initialise what only job pods need (the BuildKit client).
package climain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/urfave/cli/v3"
)

// Run runs app with args (the program's name first) and returns the process's exit code,
// writing why it failed to stderr: main exits with it, tests check it.
func Run(app *cli.Command, args []string, stderr io.Writer) int {
	if err := app.Run(context.Background(), args); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", app.Name, err)
		return ExitCode(err)
	}
	return 0
}

// ExitCode is 1 for every failure unless the error carries its own code (cli.Exit).
func ExitCode(err error) int {
	var ec cli.ExitCoder
	if errors.As(err, &ec) && ec.ExitCode() != 0 {
		return ec.ExitCode()
	}
	return 1
}

// KeepCommas turns off urfave/cli's splitting of repeatable flags on commas, for cmd and
// every command under it (the setting is per command): a value such as --var KEY=a,b is one
// value. A flag whose value is a list by design splits it itself (register --tag-list).
func KeepCommas(cmd *cli.Command) *cli.Command {
	cmd.DisableSliceFlagSeparator = true
	for _, sub := range cmd.Commands {
		KeepCommas(sub)
	}
	return cmd
}

// App completes a program's root command: output to stdout and stderr, errors returned to
// main (and to tests) instead of exiting inside the library, commas kept in every command,
// and --version and a `version` command that report the build's version and revision.
func App(root *cli.Command, stdout, stderr io.Writer, version, revision string) *cli.Command {
	root.Version = version
	root.Writer, root.ErrWriter = stdout, stderr
	root.ExitErrHandler = func(context.Context, *cli.Command, error) {}
	root.Commands = append(root.Commands, versionCommand(version, revision))
	return KeepCommas(root)
}

func versionCommand(version, revision string) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version, revision and Go version",
		Action: func(_ context.Context, cmd *cli.Command) error {
			_, err := fmt.Fprintf(cmd.Root().Writer, "Version:      %s\nGit revision: %s\nGo version:   %s\nBuilt for:    %s/%s\n",
				version, revision, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
