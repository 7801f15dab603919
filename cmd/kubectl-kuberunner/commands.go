package main

import (
	"github.com/spf13/cobra"

	"github.com/kuberunner/kuberunner/internal/kubectlplugin"
)

func jobsCommand(g *globals) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "jobs",
		Short: "List running job pods: job, project, pipeline, stage, name, age, phase, node",
		Example: `  kubectl kuberunner jobs -n ci
  kubectl kuberunner jobs -A -o wide
  kubectl kuberunner jobs -o json | jq '.[] | select(.phase != "Running")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := g.plugin()
			if err != nil {
				return err
			}
			return p.Jobs(cmd.Context(), output)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "wide (adds pod, runner, replica) or json")
	return c
}

func runnersCommand(g *globals) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "runners",
		Short: "List the runner's replicas: pods, readiness, /health/ready, Leases",
		Example: `  kubectl kuberunner runners -n kuberunner
  kubectl kuberunner runners -A -o wide`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := g.plugin()
			if err != nil {
				return err
			}
			return p.Runners(cmd.Context(), output)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "wide (adds node, Lease name) or json")
	return c
}

func logsCommand(g *globals) *cobra.Command {
	var follow bool
	c := &cobra.Command{
		Use:     "logs JOB_ID",
		Short:   "Print a running job's output (masked) from its pod: prepare's, then the script's",
		Example: `  kubectl kuberunner logs 4242 -n ci -f`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := kubectlplugin.ParseJobID(args[0])
			if err != nil {
				return err
			}
			p, err := g.plugin()
			if err != nil {
				return err
			}
			return p.Logs(cmd.Context(), id, follow)
		},
	}
	c.Flags().BoolVarP(&follow, "follow", "f", false, "stream the output until the job's container ends")
	return c
}

func describeCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "describe JOB_ID",
		Short:   "Show a job's pod, containers, outcome and events",
		Example: `  kubectl kuberunner describe 4242 -n ci`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := kubectlplugin.ParseJobID(args[0])
			if err != nil {
				return err
			}
			p, err := g.plugin()
			if err != nil {
				return err
			}
			return p.Describe(cmd.Context(), id)
		},
	}
}
