// Command kubectl-kuberunner is the kubectl plugin `kubectl kuberunner`: flag parsing and
// wiring only; the commands are package internal/kubectlplugin.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/kuberunner/kuberunner/internal/kubectlplugin"
)

// Set at build time with -ldflags "-X main.version=... -X main.revision=...".
var (
	version  = "dev"
	revision = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCommand(genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}).ExecuteContext(ctx)
	stop()
	if err != nil {
		os.Exit(1) // cobra printed it
	}
}

// globals are the flags every subcommand shares: kubectl's connection flags and -A.
type globals struct {
	config        *genericclioptions.ConfigFlags
	allNamespaces bool
	streams       genericiooptions.IOStreams
}

// plugin connects to the cluster as kubectl would with the same flags.
func (g *globals) plugin() (*kubectlplugin.Plugin, error) {
	rc, err := g.config.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	p := &kubectlplugin.Plugin{Client: client, Out: g.streams.Out, ErrOut: g.streams.ErrOut}
	if !g.allNamespaces {
		if p.Namespace, _, err = g.config.ToRawKubeConfigLoader().Namespace(); err != nil {
			return nil, fmt.Errorf("namespace: %w", err)
		}
	}
	return p, nil
}

func newRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	g := &globals{config: genericclioptions.NewConfigFlags(true), streams: streams}
	root := &cobra.Command{
		Use:   "kubectl-kuberunner",
		Short: "Show kuberunner's job pods, their logs and outcome, and the runner's replicas",
		Long: `Show kuberunner's job pods, their logs and outcome, and the runner's replicas.
Reads through the API server with your kubeconfig; never execs into a pod.`,
		Version:      fmt.Sprintf("%s (%s)", version, revision),
		SilenceUsage: true,
		Annotations:  map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl kuberunner"},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	g.config.AddFlags(root.PersistentFlags())
	root.PersistentFlags().BoolVarP(&g.allNamespaces, "all-namespaces", "A", false, "look in every namespace")
	root.AddCommand(jobsCommand(g), logsCommand(g), describeCommand(g), runnersCommand(g))
	return root
}
