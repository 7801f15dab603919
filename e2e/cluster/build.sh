# shellcheck shell=bash
# Builds Kubernetes and BuildKit from the Go module proxy into the cache, once per version.
#
# Neither has a Debian package here, and `go install pkg@version` refuses both (replace and
# exclude directives), so each gets a throw-away module under the cache that requires it.

# kubectl too: a fresh Debian machine has none, and the harness and the tests need one.
K8S_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

# Staging modules of k8s.io/kubernetes: its go.mod points them at ./staging, which a module
# consumer cannot see, so each needs a replace to the matching published version.
K8S_STAGING=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
	cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api
	cri-client csi-translation-lib dynamic-resource-allocation endpointslice kms kube-aggregator
	kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics mount-utils
	pod-security-admission sample-apiserver sample-cli-plugin sample-controller)

# go_env runs go for a throw-away module: never the repository's workspace or flags.
go_env() {
	GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0 "$@"
}

k8s_built() {
	local c
	for c in "${K8S_CMDS[@]}"; do [[ -x $K8S_BIN/$c ]] || return 1; done
}

buildkit_built() {
	[[ -x $BUILDKIT_BIN/buildkitd && -x $BUILDKIT_BIN/buildctl ]]
}

build_kubernetes() {
	k8s_built && return 0
	local src=$CACHE/src/kubernetes-$K8S_VERSION minor=${K8S_VERSION#v1.}
	minor=${minor%%.*}
	local staging_version=v0.${K8S_VERSION#v1.}
	mkdir -p "$src"
	{
		echo "module kuberunner.local/k8s-build"
		echo
		echo "go 1.22.0"
		echo
		echo "require k8s.io/kubernetes $K8S_VERSION"
		echo
		local m
		for m in "${K8S_STAGING[@]}"; do echo "replace k8s.io/$m => k8s.io/$m $staging_version"; done
	} >"$src/go.mod"
	{
		echo "//go:build tools"
		echo
		echo "package tools"
		echo
		echo "import ("
		local c
		for c in "${K8S_CMDS[@]}"; do echo "	_ \"k8s.io/kubernetes/cmd/$c\""; done
		echo ")"
	} >"$src/tools.go"
	local ver=k8s.io/component-base/version cgo=k8s.io/client-go/pkg/version
	local ldflags="-s -w"
	local p
	for p in $ver $cgo; do
		ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
		ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
	done
	(cd "$src" && go_env go mod tidy) || return 1
	mkdir -p "$K8S_BIN"
	for c in "${K8S_CMDS[@]}"; do
		[[ -x $K8S_BIN/$c ]] && continue
		(cd "$src" && go_env go build -trimpath -ldflags "$ldflags" -o "$K8S_BIN/$c.tmp" "k8s.io/kubernetes/cmd/$c") || return 1
		mv "$K8S_BIN/$c.tmp" "$K8S_BIN/$c"
	done
}

build_buildkit() {
	buildkit_built && return 0
	local src=$CACHE/src/buildkit-$BUILDKIT_VERSION
	mkdir -p "$src"
	local gomod
	gomod=$(cd "$src" && go_env go mod download -json "github.com/moby/buildkit@$BUILDKIT_VERSION" |
		sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
	[[ -f $gomod ]] || { echo "no go.mod for buildkit $BUILDKIT_VERSION" >&2; return 1; }
	{
		echo "module kuberunner.local/buildkit-build"
		echo
		echo "go 1.24.0"
		echo
		echo "require github.com/moby/buildkit $BUILDKIT_VERSION"
		echo
		# buildkit's own exclude block keeps versions out that break its build; a consumer
		# must repeat it, because excludes only apply in the main module.
		awk '/^exclude \(/{p=1} p{print} p&&/^\)/{p=0} /^exclude [^(]/{print}' "$gomod"
	} >"$src/go.mod"
	printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "github.com/moby/buildkit/cmd/buildkitd"\n\t_ "github.com/moby/buildkit/cmd/buildctl"\n)\n' >"$src/tools.go"
	(cd "$src" && go_env go mod tidy) || return 1
	mkdir -p "$BUILDKIT_BIN"
	local ldflags="-s -w -X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION"
	local c
	for c in buildkitd buildctl; do
		[[ -x $BUILDKIT_BIN/$c ]] && continue
		(cd "$src" && go_env go build -trimpath -ldflags "$ldflags" -o "$BUILDKIT_BIN/$c.tmp" "github.com/moby/buildkit/cmd/$c") || return 1
		mv "$BUILDKIT_BIN/$c.tmp" "$BUILDKIT_BIN/$c"
	done
}

# build_all builds both in parallel, logs kept under the cache; prints the logs on failure.
build_all() {
	if k8s_built && buildkit_built; then
		log "binaries cached in $CACHE"
		return 0
	fi
	mkdir -p "$CACHE/logs"
	local k8s_pid bk_pid rc=0
	step "built kubernetes $K8S_VERSION" build_kubernetes >"$CACHE/logs/build-kubernetes.log" 2>&1 &
	k8s_pid=$!
	step "built buildkit $BUILDKIT_VERSION" build_buildkit >"$CACHE/logs/build-buildkit.log" 2>&1 &
	bk_pid=$!
	wait "$k8s_pid" || { rc=1; tail -n 40 "$CACHE/logs/build-kubernetes.log" >&2; }
	wait "$bk_pid" || { rc=1; tail -n 40 "$CACHE/logs/build-buildkit.log" >&2; }
	((rc == 0)) || die "building the cluster binaries failed (logs in $CACHE/logs)"
	# step's own line went to the build log; repeat it here.
	grep -h '^\[' "$CACHE/logs/build-kubernetes.log" "$CACHE/logs/build-buildkit.log" >&2 || true
}
