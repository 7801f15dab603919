package builder

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kuberunner/kuberunner/e2e/e2eutil"
	"github.com/kuberunner/kuberunner/internal/testio"
)

// localDaemon is the host buildkitd of the local cluster (e2e/cluster/lib.sh BUILDKIT_SOCK).
const localDaemon = "/run/kuberunner-e2e/buildkitd.sock"

// daemon is a BuildKit daemon and a plain-HTTP registry to build against.
type daemon struct {
	host     string
	registry string
	busybox  string
}

// testDaemon finds the local cluster's buildkitd and registry, or skips: the e2e tests and
// benchmarks need a real daemon. KR_BUILDKIT_HOST names another one.
func testDaemon(tb testing.TB) daemon {
	tb.Helper()
	host := os.Getenv("KR_BUILDKIT_HOST")
	if host == "" {
		if _, err := os.Stat(localDaemon); err != nil {
			tb.Skipf("no BuildKit daemon: %s is absent (run e2e/cluster/cluster up, or set KR_BUILDKIT_HOST)", localDaemon)
		}
		host = "unix://" + localDaemon
	}
	im, err := e2eutil.LoadImages()
	if err != nil {
		tb.Skipf("no registry: %v", err)
	}
	return daemon{host: host, registry: im.Registry, busybox: im.Busybox}
}

// repo is a repository name no other run uses.
func (d daemon) repo(tb testing.TB) string {
	name := strings.ToLower(regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(tb.Name(), "-"))
	return fmt.Sprintf("%s/kr-test/%s-%d", d.registry, strings.Trim(name, "-"), time.Now().UnixNano())
}

// options builds dir, pushing tag with the default registry cache; progress goes to out.
func (d daemon) options(dir, tag string, out *testio.Buffer) BuildOptions {
	from, to := DefaultCache([]string{tag}, true, nil, nil)
	o := BuildOptions{
		Host: d.host, Context: dir, Tags: []string{tag}, Push: true,
		CacheFrom: from, CacheTo: to,
		InsecureRegistries: []string{d.registry},
		DockerConfigDir:    filepath.Join(dir, ".docker-config-absent"),
	}
	if out != nil {
		o.Progress = out
	}
	return o
}

// multiStage is a two-stage Dockerfile: a.txt and b.txt each feed a RUN of their own, so a
// change to b.txt leaves the layers of a.txt cached.
const multiStage = `FROM %[1]s AS base
COPY a.txt /a.txt
RUN cat /a.txt > /a.out
COPY b.txt /b.txt
RUN cat /b.txt > /b.out
FROM %[1]s
COPY --from=base /a.out /b.out /
`

// writeContext writes a build context; nonce makes its first build miss every cache.
func (d daemon) writeContext(tb testing.TB, nonce string) string {
	tb.Helper()
	dir := tb.TempDir()
	files := map[string]string{
		"Dockerfile": fmt.Sprintf(multiStage, d.busybox),
		"a.txt":      "a " + nonce + "\n",
		"b.txt":      "b " + nonce + "\n",
	}
	for n, body := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(body), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}
