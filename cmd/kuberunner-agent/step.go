package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/kuberunner/kuberunner/executor/agent"
	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/runner"
)

// stepCommand is the agent inside a job pod: `step prepare --hook` in the trace shipper's
// postStart hook (`step prepare` alone in the init container of earlier pods), `step run`
// in the build container, `step ship` as the shipper. Hidden: people never run it by hand.
func stepCommand() *cli.Command {
	return &cli.Command{
		Name:   "step",
		Usage:  "run one step of a job inside its pod (used by the kubernetes executor)",
		Hidden: true,
		Commands: []*cli.Command{
			{Name: "prepare", Usage: "get sources, artifacts and cache; install the agent",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "hook", Usage: "run as the trace shipper's postStart hook: always succeed, leave the outcome in the trace directory"}},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					if cmd.Bool("hook") {
						return stepAction(agent.PrepareInShipper)(ctx, cmd)
					}
					return stepAction(agent.Prepare)(ctx, cmd)
				}},
			{Name: "run", Usage: "run the job's scripts, upload artifacts, save the cache", Action: stepAction(agent.Run)},
			{Name: "ship", Usage: "ship the job's trace to GitLab and send its final state", Action: shipAction},
		},
	}
}

// stepAction exits with the step's own code: the executor reads it from the container's
// terminated state. SIGTERM (the pod being deleted on cancel) cancels the step's context.
func stepAction(fn func(context.Context, agent.Options) int) cli.ActionFunc {
	return func(ctx context.Context, _ *cli.Command) error {
		ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		client, err := gitlab.New(gitlab.Options{Version: version, Revision: revision, Timeout: 10 * time.Minute})
		if err != nil {
			return fmt.Errorf("gitlab client: %w", err)
		}
		code := fn(ctx, agent.Options{Artifacts: client})
		stop()
		os.Exit(code)
		return nil
	}
}

// shipAction is the pod's trace shipper. SIGTERM does not stop it at once: it means the job's
// containers are done (or the pod is going), and the shipper still delivers what is left.
func shipAction(ctx context.Context, _ *cli.Command) error {
	client, err := gitlab.New(gitlab.Options{Version: version, Revision: revision, Timeout: time.Minute})
	if err != nil {
		return fmt.Errorf("gitlab client: %w", err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	stop := make(chan struct{})
	go func() {
		<-sig
		close(stop)
	}()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	return runner.ShipPod(ctx, stop, runner.PodShipOptions{GitLab: client, Log: log})
}
