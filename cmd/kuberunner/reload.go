package main

import (
	"log/slog"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/metrics"
)

// overrides are the command line's settings, which win over the file's at every reload.
type overrides struct{ listenAddress, logLevel, logFormat string }

func (o overrides) apply(file *config.Config) *config.Config {
	return withOverrides(file, o.listenAddress, o.logLevel, o.logFormat)
}

// reloader applies each new version of the configuration file that the Watcher reads.
type reloader struct {
	runner interface {
		Reload(*config.Config) (int, error)
	}
	file    *configFile
	flags   overrides
	running *config.Config // as `run` runs with it, overrides applied
	level   *slog.LevelVar
	log     *slog.Logger
	metrics *metrics.Metrics
}

// apply is the Watcher's callback. A file that does not load is refused whole, with the
// errors that name its file, line and key, and the running configuration stays in force.
func (rl *reloader) apply(file *config.Config, err error) {
	if err != nil {
		rl.log.Error("config not reloaded: the running configuration stays in force", "err", err)
		rl.metrics.Error("error")
		return
	}
	rl.file.replace(file)
	next := rl.flags.apply(file)
	changes := rl.reloadProcess(next)
	n, err := rl.runner.Reload(next)
	if err != nil {
		rl.log.Error("config reloaded in part", "err", err)
		rl.metrics.Error("error")
	}
	if changes+n == 0 && err == nil {
		// The rotation's own write comes here, as does a SIGHUP with nothing changed.
		rl.log.Debug("config read again: nothing changed")
	}
	rl.running = next
}

// reloadProcess applies what belongs to the process rather than to the runners.
func (rl *reloader) reloadProcess(next *config.Config) int {
	old, changes := rl.running, 0
	if next.ListenAddress != old.ListenAddress {
		rl.log.Warn("config reloaded: listen_address needs a restart; the running value stays", "listen_address", old.ListenAddress)
	}
	if next.LogFormat != old.LogFormat {
		rl.log.Warn("config reloaded: log_format needs a restart; the running value stays", "log_format", old.LogFormat)
	}
	if next.LogLevel != old.LogLevel {
		if err := rl.level.UnmarshalText([]byte(next.LogLevel)); err == nil {
			rl.log.Info("config reloaded: log_level changed", "from", old.LogLevel, "to", next.LogLevel)
			changes++
		}
	}
	if next.ReloadInterval != old.ReloadInterval {
		// The Watcher goes by the file it loaded itself.
		rl.log.Info("config reloaded: reload_interval changed", "from", old.ReloadInterval.Std(), "to", next.ReloadInterval.Std())
		changes++
	}
	next.ListenAddress, next.LogFormat = old.ListenAddress, old.LogFormat
	return changes
}
