# kuberunner: every target works from a fresh clone on a Debian machine with Go installed.
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.revision=$(REVISION)
GOBIN    := $(CURDIR)/bin
STATICCHECK_VERSION := v0.8.2
# helm renders and lints charts/kuberunner in the unit tests. Built from the Go module proxy
# (the one source of tools CI machines reach); -X restores the patch version that release
# builds stamp in, for `helm version` and .Capabilities.HelmVersion.
HELM_VERSION := v3.22.0

.PHONY: build test unit lint e2e check demo demo-small cluster-up cluster-down bench bench-scale rss-report tools

# Static binaries: kuberunner is the runner; kuberunner-agent runs inside job pods (the prepare
# step copies it in), whatever the image's libc, and is apart so that the runner does not link
# the BuildKit client; kubectl-kuberunner is the kubectl plugin (put it on PATH: `kubectl kuberunner`).
build:
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o kuberunner ./cmd/kuberunner
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o kuberunner-agent ./cmd/kuberunner-agent
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o kubectl-kuberunner ./cmd/kubectl-kuberunner

tools: $(GOBIN)/staticcheck $(GOBIN)/helm
$(GOBIN)/staticcheck:
	GOBIN=$(GOBIN) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
$(GOBIN)/helm:
	GOBIN=$(GOBIN) go install -ldflags '-X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION)' \
		helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

lint: tools
	go vet ./...
	$(GOBIN)/staticcheck ./...

# The chart tests (charts/) run the real helm; HELM tells them where it is.
unit: $(GOBIN)/helm
	HELM=$(GOBIN)/helm go test -race -count=1 ./...

# test: what a change must pass without a cluster.
test: lint unit

# e2e: boots (or reuses) the local cluster, runs the e2e tests, brings it down unless KEEP_CLUSTER=1.
e2e: build
	e2e/run.sh

# demo: examples/app's build -> test -> push -> deploy pipeline on the local cluster, through
# `kuberunner pipeline run`: rootless BuildKit, the cluster's registry, and deploy access to
# namespace staging for the deploy job only. The embedded coordinator listens on the node's
# address so that the job pods can reach it. Uncommitted changes are included: change a line
# of examples/app and run it again to see the cached rebuild and the redeploy.
E2E_STATE ?= $(or $(KUBERUNNER_E2E_STATE),/var/lib/kuberunner-e2e)
NODE_IP   ?= 10.213.0.1
demo: build
	e2e/cluster/cluster up
	eval "$$(e2e/cluster/cluster env)" && . "$$KR_IMAGES_ENV" && export KUBECONFIG && \
	"$$KR_KUBECTL" create namespace staging --dry-run=client -o yaml | "$$KR_KUBECTL" apply -f - >/dev/null && \
	./kuberunner pipeline run --file examples/app/.gitlab-ci.yml --include-uncommitted \
		--kubeconfig "$$KUBECONFIG" --listen $(NODE_IP):0 --helper-image "$$KR_IMAGE_KUBERUNNER" \
		--buildkit-image "$$KR_IMAGE_BUILDKIT" --registry "http://$$KR_REGISTRY" \
		--deploy staging=staging:edit --var BASE_IMAGE="$$KR_IMAGE_BUSYBOX" && \
	echo "==> the app in namespace staging answers:" && \
	"$$KR_KUBECTL" get --raw /api/v1/namespaces/staging/services/demo-app:8080/proxy/

# demo-small: the smaller example pipeline (artifacts, needs, matrix, rules, on_failure).
demo-small: build
	e2e/cluster/cluster up
	. $(E2E_STATE)/images.env && ./kuberunner pipeline run --file examples/.gitlab-ci.yml \
		--kubeconfig $(E2E_STATE)/admin.kubeconfig --listen $(NODE_IP):0 --helper-image "$$KR_IMAGE_KUBERUNNER"

# check: everything CI runs.
check: test e2e

cluster-up:
	e2e/cluster/cluster up

cluster-down:
	e2e/cluster/cluster down

# bench: the Go benchmarks, then, when the local cluster is up, the end-to-end report (a trivial
# job against a bare pod, bursts, the runner's memory; see e2e/bench_test.go). The report's
# JSON goes to KR_BENCH_REPORT (default: the temp directory).
bench:
	go test -run '^$$' -bench . -benchmem ./...
	@if e2e/cluster/cluster status >/dev/null 2>&1; then \
		eval "$$(e2e/cluster/cluster env)" && export KUBECONFIG KR_KUBECTL KR_IMAGES_ENV && \
		go test -tags e2e -run '^$$' -bench JobVsBarePod -benchtime 1x -timeout 30m ./e2e/; \
	else \
		echo "end-to-end benchmark not run: no local cluster is up (make cluster-up, then make bench)"; \
	fi

# bench-scale: the runner with up to 1,000 jobs in flight on simulated nodes of the local
# cluster (see e2e/scale_test.go); KR_SCALE_STEPS sets the job counts, KR_SCALE_REPORT the
# JSON's path. Not part of CI: it needs minutes and a cluster to itself.
bench-scale:
	@e2e/cluster/cluster status >/dev/null 2>&1 || { echo "no local cluster is up: make cluster-up, then make bench-scale"; exit 1; }
	eval "$$(e2e/cluster/cluster env)" && export KUBECONFIG KR_KUBECTL KR_IMAGES_ENV && \
		go test -tags e2e -run '^$$' -bench Scale -benchtime 1x -timeout 60m ./e2e/

# rss-report: the resident memory of the binary `make build` makes, without a cluster: after
# package initialisation, and `run` idle with one runner against an in-process coordinator and
# a fake API server (the target: under 40 MiB idle).
rss-report: build
	go run ./internal/rssreport -bin ./kuberunner
