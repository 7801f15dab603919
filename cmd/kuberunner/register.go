package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/gitlab"
)

func registerCommand() *cli.Command {
	return &cli.Command{
		Name:  "register",
		Usage: "register a runner with GitLab and add it to the configuration file",
		Description: `Two flows, as gitlab-runner:

  * an authentication token (glrt-...) created in GitLab under Settings > CI/CD > Runners:
      kuberunner register --url https://gitlab.example.com --token glrt-...
    Tags, run-untagged, locked, paused and maximum timeout are set in GitLab with the token;
    passing them here is an error.
  * a legacy registration token (deprecated by GitLab):
      kuberunner register --url https://gitlab.example.com --registration-token XYZ \
        --tag-list k8s,linux --run-untagged

The runner is appended to the configuration file, which is written atomically with mode 0600.
register never prompts.`,
		Flags: []cli.Flag{
			configFlag(),
			&cli.StringFlag{Name: "url", Usage: "GitLab instance URL, e.g. https://gitlab.com", Sources: envs("KUBERUNNER_URL", "CI_SERVER_URL"), Required: true},
			&cli.StringFlag{Name: "token", Aliases: []string{"t"}, Usage: "runner authentication token (glrt-...)", Sources: envs("KUBERUNNER_TOKEN", "CI_SERVER_TOKEN")},
			&cli.StringFlag{Name: "registration-token", Aliases: []string{"r"}, Usage: "legacy registration token", Sources: envs("KUBERUNNER_REGISTRATION_TOKEN", "REGISTRATION_TOKEN")},
			&cli.StringFlag{Name: "name", Aliases: []string{"description"}, Usage: "runner name, shown in GitLab and used by unregister (default: host name)", Sources: envs("KUBERUNNER_NAME", "RUNNER_NAME")},
			&cli.StringSliceFlag{Name: "tag-list", Usage: "comma-separated job tags this runner takes (legacy token only)", Sources: envs("KUBERUNNER_TAG_LIST", "RUNNER_TAG_LIST")},
			&cli.BoolFlag{Name: "run-untagged", Usage: "also take jobs without tags (legacy token only)", Sources: envs("KUBERUNNER_RUN_UNTAGGED", "REGISTER_RUN_UNTAGGED")},
			&cli.BoolFlag{Name: "locked", Usage: "lock the runner to the current project (legacy token only)", Sources: envs("KUBERUNNER_LOCKED", "REGISTER_LOCKED")},
			&cli.BoolFlag{Name: "paused", Usage: "register the runner paused (legacy token only)", Sources: envs("KUBERUNNER_PAUSED", "REGISTER_PAUSED")},
			&cli.StringFlag{Name: "access-level", Usage: "not_protected or ref_protected (legacy token only)", Sources: envs("KUBERUNNER_ACCESS_LEVEL", "REGISTER_ACCESS_LEVEL")},
			&cli.IntFlag{Name: "maximum-timeout", Usage: "maximum job timeout in seconds (legacy token only)", Sources: envs("KUBERUNNER_MAXIMUM_TIMEOUT", "REGISTER_MAXIMUM_TIMEOUT")},
			&cli.IntFlag{Name: "limit", Usage: "maximum concurrent jobs of this runner (0: only the global concurrent applies)", Sources: envs("KUBERUNNER_LIMIT", "RUNNER_LIMIT")},
			&cli.IntFlag{Name: "request-concurrency", Usage: "job requests kept in flight", Value: 1, Sources: envs("KUBERUNNER_REQUEST_CONCURRENCY", "RUNNER_REQUEST_CONCURRENCY")},
			&cli.IntFlag{Name: "output-limit", Usage: "job log size limit in KiB", Value: 4096, Sources: envs("KUBERUNNER_OUTPUT_LIMIT", "RUNNER_OUTPUT_LIMIT")},
			&cli.StringFlag{Name: "tls-ca-file", Usage: "PEM file with extra CA certificates for GitLab's TLS", Sources: envs("KUBERUNNER_TLS_CA_FILE", "CI_SERVER_TLS_CA_FILE")},
			&cli.StringFlag{Name: "kubernetes-namespace", Usage: "namespace for job pods", Value: "default", Sources: envs("KUBERUNNER_KUBERNETES_NAMESPACE", "KUBERNETES_NAMESPACE")},
			&cli.StringFlag{Name: "kubernetes-image", Usage: "build image for jobs that name none", Sources: envs("KUBERUNNER_KUBERNETES_IMAGE", "KUBERNETES_IMAGE")},
			&cli.StringFlag{Name: "kubernetes-helper-image", Usage: "kuberunner image run as each job's prepare step", Sources: envs("KUBERUNNER_KUBERNETES_HELPER_IMAGE", "KUBERNETES_HELPER_IMAGE")},
			&cli.BoolFlag{Name: "non-interactive", Aliases: []string{"n"}, Usage: "accepted for gitlab-runner compatibility; kuberunner never prompts"},
		},
		Action: register,
	}
}

func register(ctx context.Context, cmd *cli.Command) error {
	token, err := registrationToken(cmd)
	if err != nil {
		return err
	}
	path := cmd.String("config")
	// Read the config before talking to GitLab: a runner registered but never saved is lost.
	cfg, err := loadOrDefault(path)
	if err != nil {
		return err
	}
	name := cmd.String("name")
	if name == "" {
		if name, err = os.Hostname(); err != nil {
			return fmt.Errorf("no --name given and no host name: %w", err)
		}
	}
	if _, taken := cfg.Runner(name); taken {
		return fmt.Errorf("a runner named %q is already in %s: choose another --name", name, path)
	}
	systemID, err := loadSystemID(path)
	if err != nil {
		return err
	}
	client, err := newClient(cmd.String("tls-ca-file"))
	if err != nil {
		return err
	}
	url := cmd.String("url")
	reg, err := client.Register(ctx, url, gitlab.RegisterOptions{
		Token:          token,
		Description:    name,
		Tags:           splitTags(cmd.StringSlice("tag-list")),
		RunUntagged:    cmd.Bool("run-untagged"),
		Locked:         cmd.Bool("locked"),
		Paused:         cmd.Bool("paused"),
		AccessLevel:    cmd.String("access-level"),
		MaximumTimeout: int(cmd.Int("maximum-timeout")),
		SystemID:       systemID,
	})
	if err != nil {
		return fmt.Errorf("register with %s: %w", url, err)
	}
	r := config.Runner{
		Name:               name,
		URL:                url,
		ID:                 reg.ID,
		Token:              reg.Token,
		TLSCAFile:          cmd.String("tls-ca-file"),
		Limit:              int(cmd.Int("limit")),
		RequestConcurrency: int(cmd.Int("request-concurrency")),
		OutputLimit:        int(cmd.Int("output-limit")),
		Executor:           "kubernetes",
		Kubernetes: config.Kubernetes{
			Namespace:   cmd.String("kubernetes-namespace"),
			Image:       cmd.String("kubernetes-image"),
			HelperImage: cmd.String("kubernetes-helper-image"),
		},
	}
	if !reg.TokenExpiresAt.IsZero() {
		// Obtained now: the rotation of `run` takes the token's lifetime from these two.
		r.TokenExpiresAt = reg.TokenExpiresAt.UTC().Format(time.RFC3339)
		r.TokenObtainedAt = time.Now().UTC().Format(time.RFC3339)
	}
	cfg.Runners = append(cfg.Runners, r)
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("runner %q registered (id %d) but the resulting configuration is invalid, not saved: %w", name, reg.ID, err)
	}
	if err := config.Save(path, cfg); err != nil {
		return fmt.Errorf("runner %q registered (id %d) but not saved: %w", name, reg.ID, err)
	}
	fmt.Fprintf(cmd.Root().Writer, "Runner %q registered (id %d); configuration saved to %s\n", name, reg.ID, path)
	return nil
}

func registrationToken(cmd *cli.Command) (string, error) {
	auth, legacy := cmd.String("token"), cmd.String("registration-token")
	switch {
	case auth != "" && legacy != "":
		return "", errors.New("give either --token (glrt-...) or --registration-token, not both")
	case auth == "" && legacy == "":
		return "", errors.New("a token is required: --token glrt-... (or the legacy --registration-token)")
	case auth != "":
		return auth, nil
	default:
		return legacy, nil
	}
}

// loadOrDefault reads the configuration, or starts a new one when the file does not exist yet.
func loadOrDefault(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return config.Default(), nil
	}
	return cfg, err
}

func newClient(caFile string) (*gitlab.Client, error) {
	return gitlab.New(gitlab.Options{
		Version:  version,
		Revision: revision,
		CAFile:   caFile,
		Timeout:  30 * time.Second,
		Features: gitlab.DefaultFeatures(),
		Executor: "kubernetes",
		Shell:    "bash",
	})
}

// splitTags reads --tag-list as gitlab-runner does: each value is a comma-separated list,
// spaces around a tag are dropped and empty tags ignored; the flag may also be repeated.
func splitTags(values []string) []string {
	var tags []string
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
	}
	return tags
}
