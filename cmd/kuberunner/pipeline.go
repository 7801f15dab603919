package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/pipeline"
	"github.com/kuberunner/kuberunner/pipeline/compiler"
)

func pipelineCommand() *cli.Command {
	return &cli.Command{
		Name:  "pipeline",
		Usage: "run, check or show a repository's .gitlab-ci.yml without GitLab",
		Commands: []*cli.Command{
			pipelineRunCommand(),
			{
				Name:   "lint",
				Usage:  "check the configuration as GitLab would; exit 1 with every problem found",
				Flags:  pipelineSourceFlags(),
				Action: pipelineLint,
			},
			{
				Name:  "show",
				Usage: "print the compiled pipeline: every job with defaults, extends and rules applied",
				Flags: append(pipelineSourceFlags(),
					&cli.StringFlag{Name: "format", Value: "yaml", Usage: "yaml or json"}),
				Action: pipelineShow,
			},
		},
	}
}

func pipelineSourceFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "dir", Value: ".", Usage: "the repository"},
		&cli.StringFlag{Name: "file", Value: pipeline.DefaultFile, Usage: "the configuration file, relative to the repository's top level"},
		&cli.StringSliceFlag{Name: "var", Usage: "a pipeline variable, `KEY=VALUE` (repeatable)"},
		includeMirrorFlag(),
	}
}

func pipelineRunCommand() *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "run the pipeline on a Kubernetes cluster through an embedded GitLab-compatible coordinator",
		Description: `Compiles the repository's .gitlab-ci.yml as a push of HEAD would on GitLab, serves the jobs
and the repository from this process, and runs every job as a pod with the same runner code
as 'kuberunner run'. Each job's artifacts are kept in the repository under
.kuberunner/pipelines/<id>/jobs/<job>/ (artifacts.zip, and reports by type: dotenv.gz, ...);
the run prints where. Variables of artifacts:reports:dotenv reach the jobs that take the
job's artifacts, as on GitLab.

Manual jobs do not run unless named with --job; a child pipeline's as bridge/job.

With no flags the cluster is kubectl's: the files $KUBECONFIG lists, else ~/.kube/config
(in a pod, the in-cluster config), its current context. The job pods must reach --listen.
Without it the coordinator listens on this machine's address on the route to the cluster's
API server, which pods reach when this machine is on their network (a node, a VM beside
them). With the API server on loopback (kind or another cluster in Docker, a port-forward)
no address can be told: run refuses and asks for --listen, an address of this machine on
the pods' network (for kind, its Docker network's gateway; for the local test cluster,
10.213.0.1:0). A loopback --listen with a cluster off loopback is refused too, before any
job runs. The helper image is this version's kuberunner image unless --helper-image says.
Ctrl-C cancels the running jobs gracefully (after_script still runs) and removes their pods.
The exit code is 0 only if the pipeline passed.`,
		Flags: append(pipelineSourceFlags(),
			&cli.StringSliceFlag{Name: "job", Usage: "run this manual job too (repeatable)"},
			&cli.StringSliceFlag{Name: "follow", Usage: "show only this job's log (repeatable; default: every job's)"},
			&cli.BoolFlag{Name: "include-uncommitted", Usage: "run the working tree's uncommitted changes too"},
			&cli.StringFlag{Name: "listen", Usage: "address of the embedded coordinator and git server (default: this machine's address on the route to the cluster's API server)"},
			&cli.IntFlag{Name: "concurrent", Value: 4, Usage: "jobs running at once"},
			&cli.DurationFlag{Name: "cancel-grace", Value: 30 * time.Second, Usage: "after Ctrl-C, how long jobs may take to stop gracefully"},
			// No KUBECONFIG source: $KUBECONFIG may list several files, which client-go's
			// loading rules merge as kubectl does when the flag is empty.
			&cli.StringFlag{Name: "kubeconfig", Usage: "kubeconfig file (default: as kubectl, the files $KUBECONFIG lists or ~/.kube/config; in a pod, the in-cluster config)"},
			&cli.StringFlag{Name: "context", Usage: "kubeconfig context"},
			&cli.StringFlag{Name: "namespace", Value: config.DefaultNamespace, Usage: "namespace of the job pods"},
			&cli.StringFlag{Name: "helper-image", Usage: "the kuberunner image of each pod's trace shipper, which also clones (default: this version's)", Sources: envs("KUBERUNNER_HELPER_IMAGE")},
			&cli.StringFlag{Name: "image", Usage: "image of jobs that name none", Sources: envs("KUBERUNNER_DEFAULT_IMAGE")},
			&cli.StringFlag{Name: "registry", Usage: "the container registry jobs push to, as GitLab's (CI_REGISTRY...): `host[:port]`, or http://host[:port] for one without TLS", Sources: envs("KUBERUNNER_REGISTRY")},
			&cli.StringSliceFlag{Name: "deploy", Usage: "give jobs of environment ENV (* wildcards) ClusterRole ROLE (default edit) in NAMESPACE for their length: `ENV=NAMESPACE[:ROLE]` (repeatable)"},
			&cli.StringFlag{Name: "buildkit-image", Usage: "the rootless BuildKit image of jobs that set KUBERUNNER_BUILDKIT", Sources: envs("KUBERUNNER_BUILDKIT_IMAGE")},
		),
		Action: pipelineRun,
	}
}

func pipelineRun(ctx context.Context, cmd *cli.Command) error {
	rc, registry, err := pipelineRunner(cmd)
	if err != nil {
		return err
	}
	mirrors, err := parseMirrors(cmd.StringSlice("include-mirror"))
	if err != nil {
		return err
	}
	k := &rc.Kubernetes
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := cmd.Root().Writer
	stopSignals := cancelOnInterrupt(cancel, out)
	defer stopSignals()

	res, err := pipeline.Run(ctx, pipeline.Options{
		Dir:                cmd.String("dir"),
		File:               cmd.String("file"),
		Jobs:               cmd.StringSlice("job"),
		Follow:             cmd.StringSlice("follow"),
		Vars:               cmd.StringSlice("var"),
		Mirrors:            mirrors,
		IncludeUncommitted: cmd.Bool("include-uncommitted"),
		Listen:             cmd.String("listen"),
		Registry:           registry,
		APIServer:          apiServerURL(*k),
		Runner:             rc,
		Concurrent:         int(cmd.Int("concurrent")),
		CancelGrace:        cmd.Duration("cancel-grace"),
		Executor:           newExecutor,
		Out:                out,
		Version:            version,
	})
	if noPipeline(out, err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !res.Passed() {
		return cli.Exit(fmt.Sprintf("pipeline #%d %s", res.PipelineID, res.Status), 1)
	}
	return nil
}

// pipelineRunner is the runner entry the flags of pipeline run make, and the registry.
// Without flags the cluster is kubectl's (an empty kubeconfig leaves client-go's loading
// rules to read $KUBECONFIG, a list of files as kubectl merges them, else
// ~/.kube/config) and the helper image is this version's.
func pipelineRunner(cmd *cli.Command) (config.Runner, string, error) {
	rc := config.DefaultRunner()
	k := &rc.Kubernetes
	k.Kubeconfig, k.Context, k.Namespace = cmd.String("kubeconfig"), cmd.String("context"), cmd.String("namespace")
	k.HelperImage = cmp.Or(cmd.String("helper-image"), config.HelperImageFor(version))
	overrideString(&k.Image, cmd.String("image"))
	overrideString(&k.BuildKit.Image, cmd.String("buildkit-image"))
	registry, insecure := parseRegistry(cmd.String("registry"))
	if insecure {
		k.InsecureRegistries = append(k.InsecureRegistries, registry)
	}
	for _, d := range cmd.StringSlice("deploy") {
		entry, err := parseDeploy(d)
		if err != nil {
			return config.Runner{}, "", err
		}
		k.Deploy = append(k.Deploy, entry)
	}
	return rc, registry, nil
}

// cancelOnInterrupt turns the first SIGINT/SIGTERM into a graceful cancel of the pipeline.
// Later signals are caught too, so that the process stays to remove the jobs' pods.
func cancelOnInterrupt(cancel context.CancelFunc, out io.Writer) (stop func()) {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		first := true
		for {
			select {
			case <-sig:
				if first {
					fmt.Fprintln(out, "\n==> canceling the pipeline: running jobs stop gracefully, then their pods are removed")
					cancel()
					first = false
				} else {
					fmt.Fprintln(out, "==> still cleaning up; please wait")
				}
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(sig); close(done) }
}

// parseRegistry takes --registry: host[:port], or http://host[:port] for a registry
// without TLS (as the local cluster's).
func parseRegistry(s string) (host string, insecure bool) {
	if h, ok := strings.CutPrefix(s, "http://"); ok {
		return strings.TrimSuffix(h, "/"), true
	}
	return strings.TrimSuffix(strings.TrimPrefix(s, "https://"), "/"), false
}

// parseDeploy takes --deploy ENV=NAMESPACE[:ROLE].
func parseDeploy(s string) (config.Deploy, error) {
	env, target, ok := strings.Cut(s, "=")
	ns, role, _ := strings.Cut(target, ":")
	if !ok || env == "" || ns == "" {
		return config.Deploy{}, fmt.Errorf("--deploy %q: want ENV=NAMESPACE[:ROLE], e.g. staging=staging:edit", s)
	}
	return config.Deploy{Environment: env, Namespace: ns, ClusterRole: role}, nil
}

// compileSource compiles the pipeline the source flags name, for lint and show.
func compileSource(cmd *cli.Command) (*compiler.Pipeline, error) {
	mirrors, err := parseMirrors(cmd.StringSlice("include-mirror"))
	if err != nil {
		return nil, err
	}
	return pipeline.Compile(cmd.String("dir"), cmd.String("file"), cmd.StringSlice("var"), mirrors)
}

func pipelineLint(_ context.Context, cmd *cli.Command) error {
	p, err := compileSource(cmd)
	w := cmd.Root().Writer
	if p == nil {
		return compileError(cmd.String("file"), err)
	}
	fmt.Fprintf(w, "%s is valid: %d jobs", cmd.String("file"), len(p.Jobs))
	for _, j := range p.Jobs {
		switch t := j.Trigger; {
		case t == nil:
		case t.Child != nil:
			fmt.Fprintf(w, ", %s triggers a child pipeline of %d jobs", j.Name, len(t.Child.Jobs))
		case t.Generated != nil:
			fmt.Fprintf(w, ", %s triggers a child pipeline generated at run time by job %s", j.Name, t.Generated.Job)
		}
	}
	if len(p.Skipped) > 0 {
		fmt.Fprintf(w, ", %d left out by rules", len(p.Skipped))
	}
	fmt.Fprintln(w)
	noPipeline(w, err)
	return nil
}

// noPipeline prints err if it says GitLab would create no pipeline, which run, lint and
// show report alike and exit 0 for: GitLab reports no failure either.
func noPipeline(w io.Writer, err error) bool {
	np, ok := errors.AsType[*pipeline.NoPipelineError](err)
	if ok {
		fmt.Fprintln(w, np.Error())
	}
	return ok
}

// compileError says the file is invalid only when it is: a repository without commits
// or a --var without = is another problem.
func compileError(file string, err error) error {
	var list compiler.ErrorList
	if errors.As(err, &list) {
		return fmt.Errorf("%s is invalid:\n%w", file, err)
	}
	return err
}

func pipelineShow(_ context.Context, cmd *cli.Command) error {
	p, err := compileSource(cmd)
	if noPipeline(cmd.Root().Writer, err) {
		return nil
	}
	if err != nil {
		return compileError(cmd.String("file"), err)
	}
	data, err := pipeline.Show(p, cmd.String("format"))
	if err != nil {
		return err
	}
	_, err = cmd.Root().Writer.Write(data)
	return err
}
