package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/kuberunner/kuberunner/internal/kubectlplugin"
)

func jobsCommand(g *globals) *cobra.Command {
	return listCommand(g, &cobra.Command{
		Use:   "jobs",
		Short: "List running job pods: job, project, pipeline, stage, name, age, phase, node",
		Example: `  kubectl kuberunner jobs -n ci
  kubectl kuberunner jobs -A -o wide
  kubectl kuberunner jobs -o json | jq '.[] | select(.phase != "Running")'`,
	}, "wide (adds pod, runner, replica) or json", (*kubectlplugin.Plugin).Jobs)
}

func runnersCommand(g *globals) *cobra.Command {
	return listCommand(g, &cobra.Command{
		Use:   "runners",
		Short: "List the runner's replicas: pods, readiness, /health/ready, Leases",
		Example: `  kubectl kuberunner runners -n kuberunner
  kubectl kuberunner runners -A -o wide`,
	}, "wide (adds node, Lease name) or json", (*kubectlplugin.Plugin).Runners)
}

// listCommand completes a listing command: no arguments, and -o, checked before any connection.
func listCommand(g *globals, c *cobra.Command, outputHelp string,
	list func(*kubectlplugin.Plugin, context.Context, string) error) *cobra.Command {
	var output string
	c.Args = cobra.NoArgs
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := kubectlplugin.CheckOutput(output); err != nil {
			return err
		}
		p, err := g.plugin()
		if err != nil {
			return err
		}
		return list(p, cmd.Context(), output)
	}
	c.Flags().StringVarP(&output, "output", "o", "", outputHelp)
	return c
}

func logsCommand(g *globals) *cobra.Command {
	var follow bool
	c := jobCommand(g, &cobra.Command{
		Use:     "logs JOB_ID",
		Short:   "Print a running job's output (masked) from its pod: prepare's, then the script's",
		Example: `  kubectl kuberunner logs 4242 -n ci -f`,
	}, func(p *kubectlplugin.Plugin, ctx context.Context, id int64) error { return p.Logs(ctx, id, follow) })
	c.Flags().BoolVarP(&follow, "follow", "f", false, "stream the output until the job's container ends")
	return c
}

func describeCommand(g *globals) *cobra.Command {
	return jobCommand(g, &cobra.Command{
		Use:     "describe JOB_ID",
		Short:   "Show a job's pod, containers, outcome and events",
		Example: `  kubectl kuberunner describe 4242 -n ci`,
	}, (*kubectlplugin.Plugin).Describe)
}

// jobCommand completes a command about one job: its id is checked before any connection.
func jobCommand(g *globals, c *cobra.Command, run func(*kubectlplugin.Plugin, context.Context, int64) error) *cobra.Command {
	c.Args = cobra.ExactArgs(1)
	c.RunE = func(cmd *cobra.Command, args []string) error {
		id, err := kubectlplugin.ParseJobID(args[0])
		if err != nil {
			return err
		}
		p, err := g.plugin()
		if err != nil {
			return err
		}
		return run(p, cmd.Context(), id)
	}
	return c
}
