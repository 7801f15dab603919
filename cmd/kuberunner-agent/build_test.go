package main

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/urfave/cli/v3"

	"github.com/kuberunner/kuberunner/buildkit"
	"github.com/kuberunner/kuberunner/buildkit/builder"
	"github.com/kuberunner/kuberunner/internal/climain"
)

// parseBuild runs `kuberunner build ARGS` up to the options, with env as the environment.
func parseBuild(t *testing.T, env map[string]string, args ...string) builder.BuildOptions {
	t.Helper()
	var got builder.BuildOptions
	cmd := buildCommand()
	cmd.Action = func(_ context.Context, cmd *cli.Command) error {
		var err error
		got, err = buildOptions(cmd, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		return err
	}
	app := &cli.Command{Name: "kuberunner", Commands: []*cli.Command{cmd}, ExitErrHandler: func(context.Context, *cli.Command, error) {}}
	if err := app.Run(context.Background(), append([]string{"kuberunner", "build"}, args...)); err != nil {
		t.Fatalf("build %v: %v", args, err)
	}
	return got
}

// TestBuildFlagsKeepCommas: a build arg, label or secret with a comma in it stays one value.
func TestBuildFlagsKeepCommas(t *testing.T) {
	o := parseBuild(t, map[string]string{"TOKEN": "x", buildkit.InsecureRegistriesEnv: "r:5000"},
		"-t", "r:5000/app:tmp", "--tag", "r:5000/app:v1", "--push",
		"--build-arg", "LIST=a,b", "--build-arg", "TOKEN",
		"--label", "tags=x,y", "--secret", "id=npm,env=TOKEN", "--target", "final", "ctx")
	if diff := cmp.Diff([]string{"r:5000/app:tmp", "r:5000/app:v1"}, o.Tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"LIST": "a,b", "TOKEN": "x"}, o.BuildArgs); diff != "" {
		t.Errorf("build args (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"tags": "x,y"}, o.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]builder.Secret{{ID: "npm", Env: "TOKEN"}}, o.Secrets); diff != "" {
		t.Errorf("secrets (-want +got):\n%s", diff)
	}
	if o.Context != "ctx" || o.Target != "final" || !o.Push {
		t.Errorf("context %q target %q push %v", o.Context, o.Target, o.Push)
	}
	if diff := cmp.Diff([]string{"r:5000"}, o.InsecureRegistries); diff != "" {
		t.Errorf("insecure registries (-want +got):\n%s", diff)
	}
	if len(o.CacheFrom) != 1 || o.CacheFrom[0].Attrs["ref"] != "r:5000/app:buildcache" ||
		len(o.CacheTo) != 1 || o.CacheTo[0].Attrs["mode"] != "max" {
		t.Errorf("default cache: from %v to %v", o.CacheFrom, o.CacheTo)
	}
}

func TestBuildExplicitCacheReplacesDefault(t *testing.T) {
	o := parseBuild(t, nil, "-t", "r/app:1", "--push", "--cache-from", "type=registry,ref=r/c:main")
	if len(o.CacheTo) != 0 || len(o.CacheFrom) != 1 || o.CacheFrom[0].Attrs["ref"] != "r/c:main" {
		t.Errorf("from %v to %v", o.CacheFrom, o.CacheTo)
	}
	if o.Context != "." {
		t.Errorf("default context %q, want .", o.Context)
	}
}

func TestBuildUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"build", "--push", "."},
		{"build", "--progress", "tty", "."},
		{"build", "--secret", "env=X", "."},
		{"tag", "only-src"},
	} {
		var errOut bytes.Buffer
		if code := climain.Run(newApp(io.Discard, &errOut), append([]string{"kuberunner"}, args...), &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errOut.String())
		}
	}
}
