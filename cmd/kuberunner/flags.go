package main

import (
	"path/filepath"

	"github.com/urfave/cli/v3"

	"github.com/kuberunner/kuberunner/config"
)

// envs lists the environment variables a flag reads: kuberunner's own name first, then the
// gitlab-runner name a GitLab Runner user may already have in their manifests.
func envs(names ...string) cli.ValueSourceChain { return cli.EnvVars(names...) }

func configFlag() cli.Flag {
	return &cli.StringFlag{
		Name:    "config",
		Aliases: []string{"c"},
		Usage:   "configuration file",
		Value:   config.DefaultPath,
		Sources: envs("KUBERUNNER_CONFIG", "CONFIG_FILE"),
	}
}

// systemIDPath keeps the system_id beside the config file, as gitlab-runner does, so one
// manager keeps its identity across restarts.
func systemIDPath(configPath string) string {
	return filepath.Join(filepath.Dir(configPath), ".runner_system_id")
}
