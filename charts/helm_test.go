package charts_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/kuberunner/kuberunner/manifests"
)

const (
	chartDir = "kuberunner"
	release  = "kr"
	// releaseNS is not the chart's default, so a template that forgets .Release.Namespace shows.
	releaseNS = "ci-runner"
	gitlabURL = "https://gitlab.example.com"
	token     = "glrt-chart-test"
)

// helmPath finds helm: $HELM (set by make unit), else bin/helm at the repository's root.
// CI must run these tests, so there a missing helm fails; elsewhere it skips.
func helmPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("HELM")
	if p == "" {
		var err error
		if p, err = filepath.Abs(filepath.Join("..", "bin", "helm")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("helm is needed for the chart tests: %v (make tools installs it)", err)
		}
		t.Skipf("helm not found (%v); `make tools` installs it into bin/", err)
	}
	return p
}

// runHelm runs helm with args and values documents (YAML, each written to a file and passed
// with -f, later ones over earlier ones), in throwaway helm home directories so that nothing
// of the user's helm setup takes part.
func runHelm(t *testing.T, args []string, values ...string) ([]byte, error) {
	t.Helper()
	helm := helmPath(t)
	dir := t.TempDir()
	for i, v := range values {
		f := filepath.Join(dir, fmt.Sprintf("values-%d.yaml", i))
		if err := os.WriteFile(f, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-f", f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, helm, args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+dir+"/cache", "HELM_CONFIG_HOME="+dir+"/config", "HELM_DATA_HOME="+dir+"/data")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("helm %v: %w\n%s%s", args, err, stderr.Bytes(), stdout.Bytes())
	}
	return stdout.Bytes(), nil
}

// tokenValues are what every install needs, unless it names an existing Secret.
const tokenValues = "gitlabUrl: " + gitlabURL + "\nrunnerToken: " + token + "\n"

// template renders the chart with tokenValues and values over them; values may unset
// gitlabUrl or runnerToken with null.
func template(t *testing.T, values string) ([]runtime.Object, error) {
	t.Helper()
	out, err := runHelm(t, []string{"template", release, chartDir, "--namespace", releaseNS}, tokenValues, values)
	if err != nil {
		return nil, err
	}
	return decode(out)
}

func mustTemplate(t *testing.T, values string) []runtime.Object {
	t.Helper()
	objs, err := template(t, values)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// decode decodes helm's output strictly, as manifests does (a misspelt field in a template
// fails), except the Prometheus Operator's kinds, which client-go's scheme lacks.
func decode(out []byte) ([]runtime.Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(out)))
	var objs []runtime.Object
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		var u unstructured.Unstructured
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			return nil, fmt.Errorf("helm output: %w\n%s", err, doc)
		}
		if u.Object == nil {
			continue
		}
		if u.GroupVersionKind().Group == "monitoring.coreos.com" {
			objs = append(objs, &u)
			continue
		}
		o, err := manifests.Decode(doc)
		if err != nil {
			return nil, fmt.Errorf("%w\n%s", err, doc)
		}
		objs = append(objs, o...)
	}
}

// all returns the objects of type T.
func all[T runtime.Object](objs []runtime.Object) []T {
	var found []T
	for _, o := range objs {
		if v, ok := o.(T); ok {
			found = append(found, v)
		}
	}
	return found
}

// one returns the one object of type T.
func one[T runtime.Object](t *testing.T, objs []runtime.Object) T {
	t.Helper()
	found := all[T](objs)
	if len(found) != 1 {
		var zero T
		t.Fatalf("%d objects of type %T, want one", len(found), zero)
	}
	return found[0]
}
