package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/kuberunner/kuberunner/buildkit"
	"github.com/kuberunner/kuberunner/buildkit/builder"
)

// buildCommand is `kuberunner build`, run inside a job container against the BuildKit
// sidecar: the flags are docker buildx build's, so a job's script reads as it would with dind.
func buildCommand() *cli.Command {
	return &cli.Command{
		Name:      "build",
		Usage:     "build an image from a Dockerfile with the job's BuildKit daemon (docker buildx build flags)",
		ArgsUsage: "[CONTEXT]",
		// --build-arg A=x,y and --secret id=a,env=B carry commas of their own.
		DisableSliceFlagSeparator: true,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "tag", Aliases: []string{"t"}, Usage: "image name, NAME:TAG (repeatable)"},
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "Dockerfile (default CONTEXT/Dockerfile)"},
			&cli.StringSliceFlag{Name: "build-arg", Usage: "build argument KEY=VALUE, or KEY to take it from the environment (repeatable)"},
			&cli.StringFlag{Name: "target", Usage: "stage to build"},
			&cli.BoolFlag{Name: "push", Usage: "push the image to its registry"},
			&cli.StringSliceFlag{Name: "cache-from", Usage: "cache source, type=registry,ref=NAME (default with --push: the first tag's repository :buildcache)"},
			&cli.StringSliceFlag{Name: "cache-to", Usage: "cache destination, type=registry,ref=NAME[,mode=max] (default with --push: the first tag's repository :buildcache, mode=max)"},
			&cli.BoolFlag{Name: "no-cache", Usage: "do not use cached layers"},
			&cli.StringSliceFlag{Name: "label", Usage: "image label KEY=VALUE (repeatable)"},
			&cli.StringSliceFlag{Name: "secret", Usage: "secret for RUN --mount=type=secret: id=ID,env=VAR or id=ID,src=FILE (repeatable)"},
			&cli.StringSliceFlag{Name: "platform", Usage: "target platform, e.g. linux/amd64 (repeatable)"},
			&cli.StringFlag{Name: "progress", Value: "plain", Usage: "plain or quiet"},
			&cli.StringFlag{Name: "metadata-file", Usage: "write the build's result (containerimage.digest, ...) as JSON to this file"},
			&cli.StringFlag{Name: "buildkit-host", Usage: "BuildKit daemon address", Sources: cli.EnvVars(buildkit.HostEnv)},
		},
		Action: buildAction,
	}
}

func buildAction(ctx context.Context, cmd *cli.Command) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	o, err := buildOptions(cmd, os.LookupEnv)
	if err != nil {
		return cli.Exit(fmt.Sprintf("build: %v", err), 2)
	}
	res, err := builder.Build(ctx, o)
	if err != nil {
		// The step's output is already in the progress lines; the code is the step's own.
		return cli.Exit(fmt.Sprintf("build: %v", err), builder.ExitCode(err))
	}
	if f := cmd.String("metadata-file"); f != "" {
		if err := writeMetadata(f, res.Exporter); err != nil {
			return err
		}
	}
	out := cmd.Root().Writer
	if !o.Push || len(o.Tags) == 0 {
		_, err = fmt.Fprintf(out, "built %s\n", res.Digest)
		return err
	}
	for _, ref := range res.ImageRefs(o.Tags) {
		if _, err := fmt.Fprintf(out, "pushed %s\n", ref); err != nil {
			return err
		}
	}
	return nil
}

// buildOptions turns the flags into builder.BuildOptions; lookup is the environment.
func buildOptions(cmd *cli.Command, lookup func(string) (string, bool)) (builder.BuildOptions, error) {
	if cmd.NArg() > 1 {
		return builder.BuildOptions{}, fmt.Errorf("one context directory, got %d arguments", cmd.NArg())
	}
	o := builder.BuildOptions{
		Host:       cmd.String("buildkit-host"),
		Context:    cmd.Args().First(),
		Dockerfile: cmd.String("file"),
		Tags:       cmd.StringSlice("tag"),
		Target:     cmd.String("target"),
		Platforms:  cmd.StringSlice("platform"),
		Push:       cmd.Bool("push"),
		NoCache:    cmd.Bool("no-cache"),
		Waiting: func(host string, wait time.Duration) {
			fmt.Fprintf(cmd.Root().ErrWriter, "waiting up to %s for the BuildKit daemon at %s\n", wait, host)
		},
	}
	if o.Context == "" {
		o.Context = "."
	}
	if o.Push && len(o.Tags) == 0 {
		return o, fmt.Errorf("--push needs a --tag")
	}
	switch p := cmd.String("progress"); p {
	case "plain":
		o.Progress = cmd.Root().ErrWriter
	case "quiet":
	default:
		return o, fmt.Errorf("--progress %q: want plain or quiet", p)
	}
	insecure, _ := lookup(buildkit.InsecureRegistriesEnv)
	o.InsecureRegistries = builder.ParseInsecureRegistries(insecure)
	o.DockerConfigDir, _ = lookup(buildkit.DockerConfigEnv)

	var err error
	if o.BuildArgs, err = builder.ParseBuildArgs(cmd.StringSlice("build-arg"), lookup); err != nil {
		return o, err
	}
	if o.Labels, err = builder.ParseLabels(cmd.StringSlice("label")); err != nil {
		return o, err
	}
	for _, s := range cmd.StringSlice("secret") {
		sec, err := builder.ParseSecret(s)
		if err != nil {
			return o, err
		}
		o.Secrets = append(o.Secrets, sec)
	}
	var from, to []builder.CacheEntry
	for _, s := range cmd.StringSlice("cache-from") {
		e, err := builder.ParseCacheEntry(s)
		if err != nil {
			return o, err
		}
		from = append(from, e)
	}
	for _, s := range cmd.StringSlice("cache-to") {
		e, err := builder.ParseCacheEntry(s)
		if err != nil {
			return o, err
		}
		to = append(to, e)
	}
	o.CacheFrom, o.CacheTo = builder.DefaultCache(o.Tags, o.Push, from, to)
	return o, nil
}

// writeMetadata writes the exporter response as buildx's --metadata-file does.
func writeMetadata(path string, resp map[string]string) error {
	b, err := json.MarshalIndent(resp, "", "  ")
	if err != nil {
		return err
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// tagCommand is `kuberunner tag`: more names for an image already pushed, without a rebuild
// (the "push" stage that retags :tmp as :$CI_COMMIT_SHA).
func tagCommand() *cli.Command {
	return &cli.Command{
		Name:                      "tag",
		Usage:                     "add tags to an image already in a registry, without rebuilding (the digest stays)",
		ArgsUsage:                 "SRC TARGET...",
		DisableSliceFlagSeparator: true,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "insecure-registry", Usage: "host:port reached over plain HTTP (repeatable; also $" + buildkit.InsecureRegistriesEnv + ")"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.NArg() < 2 {
				return cli.Exit("tag: want SRC TARGET...", 2)
			}
			args := cmd.Args().Slice()
			insecure := append(cmd.StringSlice("insecure-registry"),
				builder.ParseInsecureRegistries(os.Getenv(buildkit.InsecureRegistriesEnv))...)
			digest, err := builder.Tag(ctx, args[0], args[1:], builder.TagOptions{InsecureRegistries: insecure})
			if err != nil {
				return fmt.Errorf("tag: %w", err)
			}
			for _, t := range args[1:] {
				if _, err := fmt.Fprintf(cmd.Root().Writer, "tagged %s@%s\n", t, digest); err != nil {
					return err
				}
			}
			return nil
		},
	}
}
