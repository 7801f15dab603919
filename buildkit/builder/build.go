package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	"github.com/moby/buildkit/util/progress/progressui"
	"github.com/tonistiigi/fsutil"
	"golang.org/x/sync/errgroup"

	"github.com/kuberunner/kuberunner/buildkit"
)

// DefaultWait is how long Build waits for the daemon: the sidecar may still be starting when
// the job's script runs.
const DefaultWait = 2 * time.Minute

// BuildOptions are `kuberunner build`'s flags, parsed.
type BuildOptions struct {
	Host       string // BuildKit address, e.g. unix:///run/buildkit/buildkitd.sock
	Context    string // context directory; "" is "."
	Dockerfile string // "" is Context/Dockerfile
	Tags       []string
	BuildArgs  map[string]string
	Labels     map[string]string
	Target     string
	Platforms  []string
	Push       bool
	NoCache    bool
	CacheFrom  []CacheEntry // used as given: apply DefaultCache before for the default
	CacheTo    []CacheEntry
	Secrets    []Secret
	// DockerConfigDir holds config.json with the registry credentials; "" is $DOCKER_CONFIG,
	// else ~/.docker.
	DockerConfigDir string
	// InsecureRegistries are host:port reached over plain HTTP when pushing.
	InsecureRegistries []string
	Progress           io.Writer // plain progress lines; nil prints nothing
	Wait               time.Duration
	// Waiting is told once when the daemon does not answer at once; nil says nothing.
	Waiting func(host string, wait time.Duration)
}

// Result is what a successful build made.
type Result struct {
	Digest string // the image manifest's (or index's) digest, sha256:...
	// Exporter is the daemon's exporter response (containerimage.digest, image.name, ...),
	// what --metadata-file writes.
	Exporter map[string]string
}

// Build runs the Dockerfile frontend on the daemon at o.Host and exports an image named by
// o.Tags, pushed when o.Push. A failing step's error carries its exit code (ExitCode).
func Build(ctx context.Context, o BuildOptions) (Result, error) {
	solveOpt, err := o.solveOpt()
	if err != nil {
		return Result{}, err
	}
	c, err := connect(ctx, o.Host, o.Wait, o.Waiting)
	if err != nil {
		return Result{}, err
	}
	defer c.Close()

	// BuildKit exports the image and the cache at the same time, and a layer both push to
	// the same registry can be skipped by one as "being pushed" by the other, whose upload
	// has not finished when the image's manifest goes up: the registry refuses the manifest
	// (blob unknown). The cache is therefore exported by a second solve, once the image is
	// pushed; everything is cached by then, so it only uploads.
	cacheExports := solveOpt.CacheExports
	if o.Push {
		solveOpt.CacheExports = nil
	}
	resp, err := solve(ctx, c, solveOpt, o.Progress)
	if err != nil {
		return Result{}, err
	}
	if o.Push && len(cacheExports) > 0 {
		cacheOnly := solveOpt
		cacheOnly.Exports, cacheOnly.CacheExports = nil, cacheExports
		if o.Progress != nil {
			for _, e := range o.CacheTo {
				fmt.Fprintf(o.Progress, "exporting the build cache (%s %s)\n", e.Type, e.Attrs["ref"])
			}
		}
		// Quiet: the steps it shows are the build's, all CACHED, a second time.
		if _, err := solve(ctx, c, cacheOnly, nil); err != nil {
			return Result{}, fmt.Errorf("export the build cache (the image is pushed): %w", err)
		}
	}
	res := Result{Digest: resp.ExporterResponse[exptypes.ExporterImageDigestKey], Exporter: resp.ExporterResponse}
	if res.Digest == "" {
		return res, errors.New("the daemon returned no image digest")
	}
	return res, nil
}

// solve runs one solve, printing its progress to out (nothing when out is nil).
func solve(ctx context.Context, c *client.Client, opt client.SolveOpt, out io.Writer) (*client.SolveResponse, error) {
	mode := progressui.PlainMode
	if out == nil {
		mode, out = progressui.QuietMode, io.Discard
	}
	display, err := progressui.NewDisplay(out, mode)
	if err != nil {
		return nil, err
	}
	ch := make(chan *client.SolveStatus)
	var resp *client.SolveResponse
	eg, ectx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		var err error
		resp, err = c.Solve(ectx, nil, opt, ch)
		return err
	})
	eg.Go(func() error {
		// Not ectx: the display has to drain ch until Solve closes it, failure or not,
		// so the failing step's output is printed.
		_, err := display.UpdateFrom(context.WithoutCancel(ctx), ch)
		return err
	})
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	return resp, nil
}

// connect waits up to wait (DefaultWait if 0) for the daemon to answer.
func connect(ctx context.Context, host string, wait time.Duration, waiting func(string, time.Duration)) (*client.Client, error) {
	if host == "" {
		return nil, fmt.Errorf("no BuildKit daemon: set %s or --buildkit-host", buildkit.HostEnv)
	}
	if wait == 0 {
		wait = DefaultWait
	}
	c, err := client.New(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("buildkit %s: %w", host, err)
	}
	quick, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, err = c.Info(quick)
	cancel()
	if err == nil {
		return c, nil
	}
	if waiting != nil {
		waiting(host, wait)
	}
	wctx, cancel := context.WithTimeoutCause(ctx, wait, fmt.Errorf("no answer within %s", wait))
	defer cancel()
	if err := c.Wait(wctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("buildkit %s: %w", host, err)
	}
	return c, nil
}

// solveOpt translates the options into the Dockerfile frontend's request.
func (o BuildOptions) solveOpt() (client.SolveOpt, error) {
	contextDir := o.Context
	if contextDir == "" {
		contextDir = "."
	}
	dockerfile := o.Dockerfile
	if dockerfile == "" {
		dockerfile = filepath.Join(contextDir, "Dockerfile")
	}
	ctxFS, err := fsutil.NewFS(contextDir)
	if err != nil {
		return client.SolveOpt{}, fmt.Errorf("context %s: %w", contextDir, err)
	}
	dfFS, err := fsutil.NewFS(filepath.Dir(dockerfile))
	if err != nil {
		return client.SolveOpt{}, fmt.Errorf("dockerfile %s: %w", dockerfile, err)
	}
	attachables, err := o.session()
	if err != nil {
		return client.SolveOpt{}, err
	}
	return client.SolveOpt{
		Frontend:      "dockerfile.v0",
		FrontendAttrs: o.frontendAttrs(filepath.Base(dockerfile)),
		LocalMounts:   map[string]fsutil.FS{"context": ctxFS, "dockerfile": dfFS},
		Exports:       []client.ExportEntry{{Type: client.ExporterImage, Attrs: o.exportAttrs()}},
		CacheImports:  o.cacheEntries(o.CacheFrom),
		CacheExports:  o.cacheEntries(o.CacheTo),
		Session:       attachables,
	}, nil
}

func (o BuildOptions) frontendAttrs(filename string) map[string]string {
	attrs := map[string]string{"filename": filename}
	if o.Target != "" {
		attrs["target"] = o.Target
	}
	if len(o.Platforms) > 0 {
		attrs["platform"] = strings.Join(o.Platforms, ",")
	}
	if o.NoCache {
		attrs["no-cache"] = ""
	}
	for k, v := range o.BuildArgs {
		attrs["build-arg:"+k] = v
	}
	for k, v := range o.Labels {
		attrs["label:"+k] = v
	}
	return attrs
}

func (o BuildOptions) exportAttrs() map[string]string {
	attrs := map[string]string{}
	if len(o.Tags) > 0 {
		attrs[string(exptypes.OptKeyName)] = strings.Join(o.Tags, ",")
	}
	if o.Push {
		attrs[string(exptypes.OptKeyPush)] = "true"
	}
	if insecureFor(o.Tags, o.InsecureRegistries) {
		attrs[string(exptypes.OptKeyInsecure)] = "true"
	}
	return attrs
}

// cacheEntries copies the entries, marking registry caches on an insecure host as such.
func (o BuildOptions) cacheEntries(in []CacheEntry) []client.CacheOptionsEntry {
	var out []client.CacheOptionsEntry
	for _, e := range in {
		attrs := map[string]string{}
		for k, v := range e.Attrs {
			attrs[k] = v
		}
		if e.Type == "registry" && insecureFor([]string{attrs["ref"]}, o.InsecureRegistries) {
			attrs["registry.insecure"] = "true"
		}
		out = append(out, client.CacheOptionsEntry{Type: e.Type, Attrs: attrs})
	}
	return out
}

// ImageRefs are TAG@DIGEST for each tag: the tag as given, pinned to what was built.
func (r Result) ImageRefs(tags []string) []string {
	out := make([]string, len(tags))
	for i, t := range tags {
		t, _, _ = strings.Cut(t, "@")
		out[i] = t + "@" + r.Digest
	}
	return out
}
