package pipeline

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/executor/agent"
	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/metrics"
	"github.com/kuberunner/kuberunner/runner"
)

// StateDir is the directory, at the top of the repository, where local pipelines keep
// their artifacts: .kuberunner/pipelines/<id>/jobs/<job>/artifacts.zip (and the reports
// beside it), linked to the coordinator's uploads in .kuberunner/pipelines/<id>/uploads.
const StateDir = ".kuberunner"

// Options configure Run.
type Options struct {
	Dir  string // the repository, or any directory in it (default ".")
	File string // the configuration file, relative to the top level (default .gitlab-ci.yml)
	// Jobs are manual jobs to run as if played; Follow limits the logs shown to those jobs.
	Jobs, Follow []string
	// Vars are pipeline variables, KEY=VALUE.
	Vars []string
	// Mirrors are local copies of what includes read from a GitLab server, by key
	// (compiler.Input.Mirrors).
	Mirrors map[string]fs.FS
	// IncludeUncommitted serves the working tree (committed to a snapshot) instead of HEAD.
	IncludeUncommitted bool
	// Listen is where the coordinator and the git server listen. Pods must reach it; the
	// default is this machine's address on the route to APIServer (loopback when that is
	// unknown; refused when APIServer is on loopback, where no address is known to fit).
	Listen string
	// APIServer is the URL of the cluster's API server, when known: Run refuses a loopback
	// Listen that pods on that cluster could not reach.
	APIServer string
	// Registry is the container registry jobs push to, host[:port], as GitLab's own
	// registry: CI_REGISTRY, CI_REGISTRY_IMAGE, CI_REGISTRY_USER and CI_REGISTRY_PASSWORD
	// (the job token, masked) are set, and the job gets it as a registry credential.
	Registry string
	// Runner is the runner entry jobs run with (its Kubernetes section); Run fills in the
	// name, URL and token.
	Runner config.Runner
	// Concurrent caps jobs running at once (default 4).
	Concurrent int
	// Executor builds the executor that runs the jobs.
	Executor func(config.Runner) (runner.Executor, error)
	Out      io.Writer    // terminal output (default os.Stdout)
	Logger   *slog.Logger // the runner's own log (default: discarded)
	Version  string

	// Intervals; zero takes the default. Tests shrink them.
	TraceInterval time.Duration // how often runners send the trace (default 1s)
	// KeepAlive is how long a silent job goes without telling the coordinator it is alive
	// (default 3s, not GitLab's 30s: on loopback it costs nothing, and it is how a silent
	// job learns of a cancel).
	KeepAlive        time.Duration
	ProgressInterval time.Duration // silence before a progress line (default 10s)
	CancelGrace      time.Duration // graceful cancel before a forced one (default 30s)
}

// Run runs the repository's pipeline through the embedded coordinator and a runner, writes
// the progress and the final table to Out, and returns the result. An error means the
// pipeline could not run at all (bad configuration, no repository, ...).
func Run(ctx context.Context, opts Options) (Result, error) {
	out := NewOutput(cmp.Or[io.Writer](opts.Out, os.Stdout), opts.Follow)
	if opts.Executor == nil {
		return Result{}, errors.New("pipeline: no executor")
	}
	ln, err := net.Listen("tcp", cmp.Or(opts.Listen, defaultListen(opts.APIServer)))
	if err != nil {
		return Result{}, fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	serverURL := "http://" + ln.Addr().String()

	var eng *Engine // the git server authorises against it once it exists
	src, err := prepareSource(ctx, opts, func(tok string) bool { return eng != nil && eng.Authorized(tok) })
	if err != nil {
		return Result{}, err
	}
	defer src.git.Close()
	if src.dirty && !opts.IncludeUncommitted {
		fmt.Fprintln(out.w, "note: the working tree has uncommitted changes; jobs check out HEAD (use --include-uncommitted to run them)")
	}
	p, err := src.compile(opts)
	if err == nil && opts.Listen == "" {
		err = checkDefaultListen(opts.APIServer)
	}
	if err == nil {
		err = checkListen(ln.Addr(), opts.APIServer)
	}
	if err != nil {
		// GitLab keeps no trace of a pipeline it did not create or run: neither do we.
		_ = os.Remove(src.dir())
		return Result{}, err
	}
	eng, err = NewEngine(EngineOptions{
		Pipeline: p, Play: opts.Jobs, Output: out,
		ArtifactsDir:        filepath.Join(src.dir(), "uploads"),
		JobsDir:             filepath.Join(src.dir(), "jobs"),
		TraceUpdateInterval: time.Second,
		ProgressInterval:    opts.ProgressInterval,
		CancelGrace:         opts.CancelGrace,
		NewPipeline:         func() (int64, error) { return src.newChild(ctx) },
		Env: JobEnv{
			Git: src.state, PipelineID: src.pipelineID, ServerURL: serverURL,
			RepoURL: serverURL + src.git.Path(), Predefined: src.predefined, User: src.user,
			CacheKey: src.cacheKey, Registry: opts.Registry,
		},
	})
	if err != nil {
		return Result{}, err
	}
	srv := eng.Coordinator()
	defer srv.Close()
	mux := http.NewServeMux()
	mux.Handle("/api/v4/", srv)
	mux.Handle(src.git.Path()+"/", src.git)
	mux.Handle(cachePath+"{key}", cacheServer{
		store:      agent.DirStore{Dir: filepath.Join(src.top, StateDir, "cache")},
		authorized: eng.Authorized,
	})
	if k := &opts.Runner.Kubernetes; k.CacheClaim == "" && k.CacheURL == "" {
		k.CacheURL = serverURL + cachePath
	}
	httpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go httpSrv.Serve(ln) //nolint:errcheck // Serve always returns an error once shut down
	defer httpSrv.Close()

	r, err := newRunner(opts, serverURL, srv.AddRunner(coordinator.RunnerSpec{Description: "kuberunner pipeline", RunUntagged: true}))
	if err != nil {
		return Result{}, err
	}
	runnerCtx, stopRunner := context.WithCancel(context.Background())
	runnerDone := make(chan error, 1)
	go func() { runnerDone <- r.Run(runnerCtx) }()

	fmt.Fprintf(out.w, "Pipeline #%d: %d jobs, %s at %.8s, served at %s\n", src.pipelineID, len(p.Jobs), src.ref(), src.state.Sha, serverURL)
	res, runErr := eng.Run(ctx)
	// Every job has ended on the coordinator's side; the runner finishes reporting and
	// cleaning up its pods, then stops.
	stopRunner()
	if err := <-runnerDone; err != nil && runErr == nil {
		runErr = fmt.Errorf("runner: %w", err)
	}
	if runErr != nil {
		return Result{}, runErr
	}
	out.Table(res)
	return res, nil
}

func newRunner(opts Options, url, token string) (*runner.Manager, error) {
	cfg := config.Default()
	cfg.Concurrent = cmp.Or(opts.Concurrent, 4)
	cfg.CheckInterval = config.Duration(time.Second)
	// The coordinator dies with this process: a job left to its pod would report to nobody.
	cfg.ShutdownJobs = config.ShutdownWait
	rc := opts.Runner
	rc.Name, rc.URL, rc.Token = "local", url, token
	rc.RequestConcurrency = max(rc.RequestConcurrency, 1)
	rc.OutputLimit = cmp.Or(rc.OutputLimit, config.DefaultOutputLimit)
	rc.Executor = cmp.Or(rc.Executor, config.DefaultExecutor)
	cfg.Runners = []config.Runner{rc}
	client, err := gitlab.New(gitlab.Options{
		Version: opts.Version, Features: gitlab.DefaultFeatures(), Executor: "kubernetes", Shell: "bash",
	})
	if err != nil {
		return nil, err
	}
	return runner.New(runner.Options{
		Config:   cfg,
		GitLab:   func(config.Runner) (runner.GitLab, error) { return client, nil },
		Executor: opts.Executor,
		Metrics:  metrics.New(prometheus.NewRegistry(), opts.Version, ""),
		Logger:   opts.Logger,
		SystemID: "r_" + strings.ToLower(rand.Text()[:12]),
		TraceDir: os.TempDir(),
		Version:  opts.Version,
		Timing: runner.Timing{
			TraceInterval: cmp.Or(opts.TraceInterval, time.Second),
			KeepAlive:     cmp.Or(opts.KeepAlive, 3*time.Second),
		},
	})
}
