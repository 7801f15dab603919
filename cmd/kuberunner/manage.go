package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/gitlab"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "check that each configured runner's token is still valid in GitLab",
		Description: `Calls GitLab's /runners/verify for every runner in the configuration file.
With --delete, runners whose token GitLab refuses are removed from the file.`,
		Flags: []cli.Flag{
			configFlag(),
			&cli.StringFlag{Name: "name", Usage: "verify only this runner", Sources: envs("KUBERUNNER_NAME", "RUNNER_NAME")},
			&cli.BoolFlag{Name: "delete", Usage: "remove runners whose token is no longer valid"},
		},
		Action: verify,
	}
}

func verify(ctx context.Context, cmd *cli.Command) error {
	path := cmd.String("config")
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	systemID, err := loadSystemID(path)
	if err != nil {
		return err
	}
	out := cmd.Root().Writer
	var invalid []string
	var failed error
	for _, r := range cfg.Runners {
		if name := cmd.String("name"); name != "" && r.Name != name {
			continue
		}
		client, err := newClient(r.TLSCAFile)
		if err != nil {
			return err
		}
		_, err = client.Verify(ctx, r.URL, r.Token, systemID)
		switch {
		case err == nil:
			fmt.Fprintf(out, "Runner %q at %s: valid\n", r.Name, r.URL)
		case errors.Is(err, gitlab.ErrForbidden):
			fmt.Fprintf(out, "Runner %q at %s: token is not valid\n", r.Name, r.URL)
			invalid = append(invalid, r.Name)
		default:
			failed = errors.Join(failed, fmt.Errorf("verify runner %q: %w", r.Name, err))
		}
	}
	if failed != nil {
		return failed
	}
	if len(invalid) == 0 {
		return nil
	}
	if !cmd.Bool("delete") {
		return fmt.Errorf("%d runner(s) have invalid tokens: %v (run with --delete to remove them)", len(invalid), invalid)
	}
	cfg.Runners = slices.DeleteFunc(cfg.Runners, func(r config.Runner) bool { return slices.Contains(invalid, r.Name) })
	if err := config.Save(path, cfg); err != nil {
		return err
	}
	fmt.Fprintf(out, "Removed %d runner(s) from %s\n", len(invalid), path)
	return nil
}

func unregisterCommand() *cli.Command {
	return &cli.Command{
		Name:  "unregister",
		Usage: "remove a runner from GitLab and from the configuration file",
		Description: `Select the runner with --name, or with --url and --token, or take all with --all-runners.
GitLab is told first (DELETE /runners); the runner leaves the file only once GitLab agreed.`,
		Flags: []cli.Flag{
			configFlag(),
			&cli.StringFlag{Name: "name", Aliases: []string{"n"}, Usage: "runner name", Sources: envs("KUBERUNNER_NAME", "RUNNER_NAME")},
			&cli.StringFlag{Name: "url", Usage: "GitLab URL of the runner", Sources: envs("KUBERUNNER_URL", "CI_SERVER_URL")},
			&cli.StringFlag{Name: "token", Aliases: []string{"t"}, Usage: "the runner's token", Sources: envs("KUBERUNNER_TOKEN", "CI_SERVER_TOKEN")},
			&cli.BoolFlag{Name: "all-runners", Usage: "unregister every runner in the file"},
		},
		Action: unregister,
	}
}

func unregister(ctx context.Context, cmd *cli.Command) error {
	path := cmd.String("config")
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	match := func(r config.Runner) bool {
		switch {
		case cmd.Bool("all-runners"):
			return true
		case cmd.String("name") != "":
			return r.Name == cmd.String("name")
		default:
			return r.URL == cmd.String("url") && r.Token == cmd.String("token")
		}
	}
	if !cmd.Bool("all-runners") && cmd.String("name") == "" && (cmd.String("url") == "" || cmd.String("token") == "") {
		return errors.New("say which runner: --name, or --url with --token, or --all-runners")
	}
	var kept []config.Runner
	removed := 0
	var failed error
	for _, r := range cfg.Runners {
		if !match(r) {
			kept = append(kept, r)
			continue
		}
		client, err := newClient(r.TLSCAFile)
		if err == nil {
			err = client.Unregister(ctx, r.URL, r.Token)
		}
		if err != nil {
			failed = errors.Join(failed, fmt.Errorf("unregister runner %q: %w", r.Name, err))
			kept = append(kept, r)
			continue
		}
		removed++
		fmt.Fprintf(cmd.Root().Writer, "Runner %q unregistered\n", r.Name)
	}
	if removed == 0 && failed == nil {
		return fmt.Errorf("no runner in %s matches", path)
	}
	if removed > 0 {
		cfg.Runners = kept
		if err := config.Save(path, cfg); err != nil {
			return errors.Join(failed, err)
		}
	}
	return failed
}

func listCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list the runners in the configuration file",
		Flags: []cli.Flag{configFlag()},
		Action: func(_ context.Context, cmd *cli.Command) error {
			cfg, err := config.Load(cmd.String("config"))
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.Root().Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tEXECUTOR\tURL\tID\tTOKEN\tLIMIT")
			for _, r := range cfg.Runners {
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%d\n", r.Name, r.Executor, r.URL, r.ID, tokenHint(r.Token), r.Limit)
			}
			return w.Flush()
		},
	}
}

// tokenHint shows enough of a token to tell runners apart and not enough to use it.
func tokenHint(token string) string {
	const shown = 8
	if len(token) <= shown+4 {
		return "[MASKED]"
	}
	return token[:shown] + "…"
}
