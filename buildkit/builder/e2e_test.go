//go:build e2e

package builder

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/kuberunner/kuberunner/internal/testio"
)

// TestBuildPushesMultiStage: the digest Build reports is the one the registry serves.
func TestBuildPushesMultiStage(t *testing.T) {
	d := testDaemon(t)
	dir := d.writeContext(t, strconv.FormatInt(time.Now().UnixNano(), 10))
	tag := d.repo(t) + ":tmp"
	var out testio.Buffer
	res, err := Build(context.Background(), d.options(dir, tag, &out))
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out.String())
	}
	if got := registryDigest(t, tag); got != res.Digest {
		t.Errorf("registry serves %s, the build printed %s", got, res.Digest)
	}
	if ref := res.ImageRefs([]string{tag})[0]; ref != tag+"@"+res.Digest {
		t.Errorf("image ref %s", ref)
	}
}

// TestBuildSecondIsAllCached: an unchanged context rebuilds from cache only, and faster.
func TestBuildSecondIsAllCached(t *testing.T) {
	d := testDaemon(t)
	dir := d.writeContext(t, strconv.FormatInt(time.Now().UnixNano(), 10))
	tag := d.repo(t) + ":tmp"

	var first, second testio.Buffer
	t0 := time.Now()
	res1, err := Build(context.Background(), d.options(dir, tag, &first))
	if err != nil {
		t.Fatalf("first build: %v\n%s", err, first.String())
	}
	cold := time.Since(t0)
	t0 = time.Now()
	res2, err := Build(context.Background(), d.options(dir, tag, &second))
	if err != nil {
		t.Fatalf("second build: %v\n%s", err, second.String())
	}
	warm := time.Since(t0)
	t.Logf("first build %s, second build %s", cold, warm)

	if res1.Digest != res2.Digest {
		t.Errorf("digest changed on an unchanged context: %s then %s", res1.Digest, res2.Digest)
	}
	if s := steps(first.String()); s["[base 3/5] RUN cat /a.txt > /a.out"] {
		t.Errorf("the first build of a new context was cached: %v", s)
	}
	s := steps(second.String())
	if len(s) < 5 {
		t.Fatalf("found %d steps in the progress, want the Dockerfile's:\n%s", len(s), second.String())
	}
	for step, cached := range s {
		// A FROM whose layers no step needs is only resolved, and reads DONE, not CACHED.
		if _, instr, _ := strings.Cut(step, "] "); strings.HasPrefix(instr, "FROM ") {
			continue
		}
		if !cached {
			t.Errorf("second build ran %q again", step)
		}
	}
}

// TestBuildOneFileChangeRebuildsFromThatLayer: changing b.txt keeps a.txt's layers cached.
func TestBuildOneFileChangeRebuildsFromThatLayer(t *testing.T) {
	d := testDaemon(t)
	dir := d.writeContext(t, strconv.FormatInt(time.Now().UnixNano(), 10))
	tag := d.repo(t) + ":tmp"
	if _, err := Build(context.Background(), d.options(dir, tag, nil)); err != nil {
		t.Fatalf("first build: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.txt"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out testio.Buffer
	if _, err := Build(context.Background(), d.options(dir, tag, &out)); err != nil {
		t.Fatalf("second build: %v\n%s", err, out.String())
	}
	want := map[string]bool{
		"[base 2/5] COPY a.txt /a.txt":                   true,
		"[base 3/5] RUN cat /a.txt > /a.out":             true,
		"[base 4/5] COPY b.txt /b.txt":                   false,
		"[base 5/5] RUN cat /b.txt > /b.out":             false,
		"[stage-1 2/2] COPY --from=base /a.out /b.out /": false,
	}
	got := steps(out.String())
	for step, cached := range want {
		if c, ok := got[step]; !ok || c != cached {
			t.Errorf("%q: cached=%v (present %v), want cached=%v", step, c, ok, cached)
		}
	}
	if t.Failed() {
		t.Logf("progress:\n%s", out.String())
	}
}

// TestBuildFailingRunKeepsExitCodeAndOutput: the job log shows the step's output and the
// command exits with the step's code.
func TestBuildFailingRunKeepsExitCodeAndOutput(t *testing.T) {
	d := testDaemon(t)
	dir := t.TempDir()
	nonce := strconv.FormatInt(time.Now().UnixNano(), 10)
	dockerfile := "FROM " + d.busybox + "\nRUN echo output-of-the-step-" + nonce + " && exit 7\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	var out testio.Buffer
	_, err := Build(context.Background(), d.options(dir, d.repo(t)+":tmp", &out))
	if err == nil {
		t.Fatal("a failing RUN built")
	}
	if code := ExitCode(err); code != 7 {
		t.Errorf("ExitCode = %d, want 7 (%v)", code, err)
	}
	if !strings.Contains(out.String(), "output-of-the-step-"+nonce) {
		t.Errorf("the step's output is not in the progress:\n%s", out.String())
	}
}

// TestTagKeepsDigest: tagging copies the manifest, within the repository and to another one.
func TestTagKeepsDigest(t *testing.T) {
	d := testDaemon(t)
	dir := d.writeContext(t, strconv.FormatInt(time.Now().UnixNano(), 10))
	repo := d.repo(t)
	res, err := Build(context.Background(), d.options(dir, repo+":tmp", nil))
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	targets := []string{repo + ":v1", repo + "-other:main"}
	digest, err := Tag(context.Background(), repo+":tmp", targets, TagOptions{InsecureRegistries: []string{d.registry}})
	if err != nil {
		t.Fatalf("tag: %v", err)
	}
	if digest != res.Digest {
		t.Errorf("Tag reports %s, the build made %s", digest, res.Digest)
	}
	for _, tg := range targets {
		if got := registryDigest(t, tg); got != res.Digest {
			t.Errorf("%s serves %s, want %s", tg, got, res.Digest)
		}
	}
}

// registryDigest is the digest the registry serves for ref.
func registryDigest(tb testing.TB, ref string) string {
	tb.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		tb.Fatal(err)
	}
	desc, err := remote.Head(r, remote.WithContext(context.Background()))
	if err != nil {
		tb.Fatalf("head %s: %v", ref, err)
	}
	return desc.Digest.String()
}

// stepLine is a vertex's name line in plain progress: "#7 [base 2/5] COPY a.txt /a.txt".
var stepLine = regexp.MustCompile(`^#(\d+) (\[[^\]]+\] .*)$`)

// steps maps each Dockerfile step in plain progress to whether it was CACHED.
func steps(progress string) map[string]bool {
	names := map[string]string{}
	cached := map[string]bool{}
	for _, line := range strings.Split(progress, "\n") {
		if m := stepLine.FindStringSubmatch(line); m != nil {
			if _, seen := names[m[1]]; !seen {
				names[m[1]] = m[2]
			}
			continue
		}
		if id, rest, ok := strings.Cut(strings.TrimPrefix(line, "#"), " "); ok && rest == "CACHED" {
			cached[id] = true
		}
	}
	out := map[string]bool{}
	for id, n := range names {
		if strings.HasPrefix(n, "[internal]") {
			continue
		}
		out[n] = cached[id]
	}
	return out
}
