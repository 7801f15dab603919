package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/kuberunner/kuberunner/executor/step"
	"github.com/kuberunner/kuberunner/gitlab"
)

// stepCommand is the agent inside a job pod: `kuberunner step prepare` in the init container,
// `kuberunner step run` in the build container. Hidden: people never run it by hand.
func stepCommand() *cli.Command {
	return &cli.Command{
		Name:   "step",
		Usage:  "run one step of a job inside its pod (used by the kubernetes executor)",
		Hidden: true,
		Commands: []*cli.Command{
			{Name: "prepare", Usage: "get sources, artifacts and cache; install the agent", Action: stepAction(step.Prepare)},
			{Name: "run", Usage: "run the job's scripts, upload artifacts, save the cache", Action: stepAction(step.Run)},
		},
	}
}

// stepAction exits with the step's own code: the executor reads it from the container's
// terminated state. SIGTERM (the pod being deleted on cancel) cancels the step's context.
func stepAction(fn func(context.Context, step.Options) int) cli.ActionFunc {
	return func(ctx context.Context, _ *cli.Command) error {
		ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		client, err := gitlab.New(gitlab.Options{Version: version, Revision: revision, Timeout: 10 * time.Minute})
		if err != nil {
			return fmt.Errorf("gitlab client: %w", err)
		}
		code := fn(ctx, step.Options{Artifacts: client})
		stop()
		os.Exit(code)
		return nil
	}
}
