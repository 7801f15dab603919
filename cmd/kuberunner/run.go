package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/urfave/cli/v3"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/metrics"
	"github.com/kuberunner/kuberunner/runner"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "serve the configured runners: poll GitLab and run jobs as pods",
		Description: `Polls GitLab for jobs for every runner in the configuration file and runs each job as a
Kubernetes pod. Serves /metrics, /health/live and /health/ready on listen_address.

The configuration file is read again when its content changes (checked every
reload_interval, 3s by default) and at once on SIGHUP. Runners are told apart by name: a new
name starts polling, a name gone stops taking jobs while its running jobs finish, and changed
limits and Kubernetes settings apply to the next jobs. A file that does not load is refused
with its errors and the running configuration stays; listen_address and log_format need a
restart.

On SIGTERM or SIGINT kuberunner stops asking for jobs, lets running jobs finish for up to
shutdown_timeout, then cancels the rest and reports them failed (runner_system_failure).
A second signal cancels running jobs at once.`,
		Flags: []cli.Flag{
			configFlag(),
			&cli.StringFlag{Name: "listen-address", Usage: "serve metrics and health checks here (overrides listen_address)", Sources: envs("KUBERUNNER_LISTEN_ADDRESS", "LISTEN_ADDRESS")},
			&cli.StringFlag{Name: "log-level", Usage: "debug, info, warn or error (overrides log_level)", Sources: envs("KUBERUNNER_LOG_LEVEL", "LOG_LEVEL")},
			&cli.StringFlag{Name: "log-format", Usage: "text or json (overrides log_format)", Sources: envs("KUBERUNNER_LOG_FORMAT", "LOG_FORMAT")},
		},
		Action: run,
	}
}

func run(ctx context.Context, cmd *cli.Command) error {
	path := cmd.String("config")
	watcher := config.NewWatcher(path)
	file, err := watcher.Load()
	if err != nil {
		return err
	}
	flags := overrides{cmd.String("listen-address"), cmd.String("log-level"), cmd.String("log-format")}
	cfg := flags.apply(file)
	if err := cfg.Validate(); err != nil {
		return err
	}
	level := new(slog.LevelVar)
	logger, err := newLogger(cmd.Root().ErrWriter, level, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	systemID, err := loadSystemID(path)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, version, revision)
	metrics.RegisterKubeAPI(reg)
	saved := &configFile{path: path, c: file}
	r, err := runner.New(runner.Options{
		Config:    cfg,
		GitLab:    gitlabClientFor(m),
		Executor:  newReplicaExecutor,
		Metrics:   m,
		Logger:    logger,
		SystemID:  systemID,
		TraceDir:  os.TempDir(),
		Version:   version,
		SaveToken: saved.tokenSaver(),
	})
	if err != nil {
		return err
	}
	if cfg.ListenAddress != "" {
		stop, err := serveHTTP(cfg.ListenAddress, metrics.Handler(reg, r.Ready), logger)
		if err != nil {
			return err
		}
		defer stop()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// One pending reload is enough: it reads the file as it is by then.
	hup := make(chan struct{}, 1)
	go handleSignals(ctx, cancel, r.Abort, hup, logger)
	rl := &reloader{runner: r, file: saved, flags: flags, running: cfg, level: level, log: logger, metrics: m}
	go watcher.Watch(ctx, cfg.ReloadInterval.Std(), hup, rl.apply)
	logger.Info("kuberunner started", "version", version, "runners", len(cfg.Runners), "concurrent", cfg.Concurrent)
	return r.Run(ctx)
}

// handleSignals turns SIGHUP into a reload of the configuration, the first SIGTERM/SIGINT
// into a graceful shutdown and a second into an abort.
func handleSignals(ctx context.Context, graceful context.CancelFunc, abort func(), reload chan<- struct{}, logger *slog.Logger) {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sig)
	// graceful ends ctx itself: from then on only a second signal ends this.
	done, stopping := ctx.Done(), false
	for {
		var s os.Signal
		select {
		case s = <-sig:
		case <-done:
			return
		}
		switch {
		case s == syscall.SIGHUP:
			logger.Info("SIGHUP: reloading the configuration")
			select {
			case reload <- struct{}{}:
			default: // a reload is pending already
			}
		case !stopping:
			logger.Info("shutting down: no new jobs; running jobs may finish", "signal", s.String())
			graceful()
			done, stopping = nil, true
		default:
			logger.Warn("second signal: cancelling running jobs now", "signal", s.String())
			abort()
			return
		}
	}
}

func gitlabClientFor(m *metrics.Metrics) func(config.Runner) (runner.GitLab, error) {
	return func(rc config.Runner) (runner.GitLab, error) {
		return gitlab.New(gitlab.Options{
			Version:  version,
			Revision: revision,
			CAFile:   rc.TLSCAFile,
			Timeout:  30 * time.Second,
			Features: gitlab.DefaultFeatures(),
			Executor: "kubernetes",
			Shell:    "bash",
			Observer: func(endpoint, method string, status int, d time.Duration) {
				m.ObserveAPIRequest(rc.Name, endpoint, method, status, d)
			},
		})
	}
}

func serveHTTP(addr string, h http.Handler, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen_address %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server stopped", "err", err)
		}
	}()
	logger.Info("serving metrics and health checks", "address", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

func overrideString(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

// newLogger sets lvl to level and logs at lvl, which a reload may change.
func newLogger(w interface{ Write([]byte) (int, error) }, lvl *slog.LevelVar, level, format string) (*slog.Logger, error) {
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("log format %q: want text or json", format)
	}
}
