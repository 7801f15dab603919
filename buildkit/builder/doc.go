// Package builder is the client side of the job pod's BuildKit sidecar: `kuberunner build`
// and `kuberunner tag` inside the job container. It is the only package to import
// github.com/moby/buildkit (and the registry clients that come with it), and it lives apart
// from package buildkit, which the pod builder imports, so that the runner's binary does
// not link the BuildKit client (9 MB of binary, 4 MiB of an idle runner's resident memory;
// make rss-report).
package builder
