// Package charts holds the Helm chart kuberunner/ and its tests, which render it with the
// real helm (bin/helm, built by `make tools`) and check it against manifests/base: the
// Role's rules and the Deployment's hardening have one meaning whichever way an operator
// installs the runner. The package has no code of its own.
package charts
