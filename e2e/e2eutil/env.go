// Package e2eutil holds what every end-to-end test needs from the cluster it runs against: the
// kubeconfig, the names of the test images, a throw-away namespace, waiting for pods, their logs
// and kubectl. The cluster is the local one of e2e/cluster, or any other one (kind, a real
// cluster) named by KUBECONFIG with the images named by KR_* variables.
package e2eutil

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DefaultState is where e2e/cluster keeps its state unless KUBERUNNER_E2E_STATE says otherwise.
const DefaultState = "/var/lib/kuberunner-e2e"

// Images names the images the tests run, each pullable by the cluster's nodes.
type Images struct {
	Registry   string // KR_REGISTRY: where tests push what they build, plain HTTP
	Pause      string // KR_IMAGE_PAUSE
	Busybox    string // KR_IMAGE_BUSYBOX: a shell and coreutils
	DebianGit  string // KR_IMAGE_DEBIAN_GIT: Debian with git, ca-certificates, bash
	Buildkit   string // KR_IMAGE_BUILDKIT: rootless buildkitd and buildctl, uid 1000
	Kuberunner string // KR_IMAGE_KUBERUNNER: empty while ./cmd/kuberunner does not build
}

// StateDir is the local cluster's state directory.
func StateDir() string {
	if d := os.Getenv("KUBERUNNER_E2E_STATE"); d != "" {
		return d
	}
	return DefaultState
}

// Kubeconfig is the kubeconfig the tests use: $KUBECONFIG (its first file, the way kubectl
// reads it), else the local cluster's admin kubeconfig.
func Kubeconfig() string {
	if k := os.Getenv("KUBECONFIG"); k != "" {
		return filepath.SplitList(k)[0]
	}
	return filepath.Join(StateDir(), "admin.kubeconfig")
}

// LoadImages reads the image names from $KR_IMAGES_ENV (default: images.env in the state
// directory, written by `e2e/cluster/cluster up`); a KR_* environment variable overrides the
// file, and without the file the variables alone are used.
func LoadImages() (Images, error) {
	path := os.Getenv("KR_IMAGES_ENV")
	if path == "" {
		path = filepath.Join(StateDir(), "images.env")
	}
	vars, err := readEnvFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Images{}, err
	}
	get := func(key string) string {
		if v, ok := os.LookupEnv(key); ok {
			return v
		}
		return vars[key]
	}
	im := Images{
		Registry:   get("KR_REGISTRY"),
		Pause:      get("KR_IMAGE_PAUSE"),
		Busybox:    get("KR_IMAGE_BUSYBOX"),
		DebianGit:  get("KR_IMAGE_DEBIAN_GIT"),
		Buildkit:   get("KR_IMAGE_BUILDKIT"),
		Kuberunner: get("KR_IMAGE_KUBERUNNER"),
	}
	if im.Registry == "" || im.Busybox == "" {
		return im, fmt.Errorf("no test images: run e2e/cluster/cluster up, or set KR_REGISTRY, KR_IMAGE_BUSYBOX, ... (%s not found)", path)
	}
	return im, nil
}

// readEnvFile parses KEY=VALUE lines; blank lines and # comments are skipped.
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want KEY=VALUE, got %q", path, n, line)
		}
		vars[strings.TrimSpace(key)] = strings.Trim(strings.TrimSpace(value), `"'`)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return vars, nil
}
