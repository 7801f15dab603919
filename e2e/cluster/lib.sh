# shellcheck shell=bash
# Common settings and helpers of the local cluster harness; sourced by ./cluster.
#
# Addresses (private ranges picked to be unlikely to clash with a host, VPN or kind network):
#   kr0     bridge holding NODE_IP/32: API server, kubelet, registry; never routed off the machine
#   krcni0  CNI bridge of the pod range POD_CIDR (gateway .0.1)
#   SERVICE_CIDR for ClusterIP services; the API is its first address

K8S_VERSION=v1.31.4
BUILDKIT_VERSION=v0.33.1

CACHE=${KUBERUNNER_CACHE:-$HOME/.cache/kuberunner}
STATE=${KUBERUNNER_E2E_STATE:-/var/lib/kuberunner-e2e}
KUBECONFIG_PATH=$STATE/admin.kubeconfig

K8S_BIN=$CACHE/kubernetes-$K8S_VERSION/bin
BUILDKIT_BIN=$CACHE/buildkit-$BUILDKIT_VERSION/bin

NODE_BRIDGE=kr0
CNI_BRIDGE=krcni0
NODE_IP=10.213.0.1
POD_CIDR=10.214.0.0/16
SERVICE_CIDR=10.215.0.0/16
API_SERVICE_IP=10.215.0.1
NODE_NAME=kr-node
REGISTRY=$NODE_IP:5000
EGRESS_CHAIN=KR-E2E-EGRESS

PIDS=$STATE/pids
LOGS=$STATE/logs
PKI=$STATE/pki
# The kubelet's default root: tools and plugins assume it. `down` unmounts and removes it, so the
# machine must not run another kubelet.
KUBELET_DIR=/var/lib/kubelet
CONTAINERD_ROOT=$STATE/containerd
CONTAINERD_SOCK=/run/kuberunner-e2e/containerd.sock
BUILDKIT_SOCK=/run/kuberunner-e2e/buildkitd.sock
RUN_DIR=/run/kuberunner-e2e

# Microseconds since the epoch, from bash itself (no fork per log line).
now_us() { echo "${EPOCHREALTIME/./}"; }

# secs_since prints the seconds, one decimal, elapsed since a now_us value.
secs_since() {
	local d=$(($(now_us) - $1))
	printf '%d.%d' $((d / 1000000)) $((d % 1000000 / 100000))
}

HARNESS_START=${HARNESS_START:-$(now_us)}
export HARNESS_START

# log prints one line prefixed with the seconds since the command began.
log() {
	printf '[%6ss] %s\n' "$(secs_since "$HARNESS_START")" "$*" >&2
}

die() {
	log "ERROR: $*"
	exit 1
}

# step runs a named step, logging its own elapsed time when it ends.
step() {
	local name=$1
	shift
	local t0
	t0=$(now_us)
	"$@"
	log "$name ($(secs_since "$t0")s)"
}

# quiet runs a command with its output kept in a file, printed only when it fails.
quiet() {
	local out
	out=$(mktemp)
	if ! "$@" >"$out" 2>&1; then
		tail -n 60 "$out" >&2
		rm -f "$out"
		die "failed: $*"
	fi
	rm -f "$out"
}

# wait_for retries a command until it succeeds or the deadline (seconds) passes.
wait_for() {
	local what=$1 deadline=$2
	shift 2
	local end=$((SECONDS + deadline))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= end)); then
			die "timed out after ${deadline}s waiting for $what"
		fi
		sleep 0.2
	done
}

need_root() {
	[[ $(id -u) -eq 0 ]] || die "the local cluster needs root (it runs containerd, the kubelet and iptables)"
}

# mounts_under DIR: the mount points at or below DIR, deepest first.
mounts_under() {
	awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

unmount_under() {
	local m
	for m in $(mounts_under "$1"); do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
}
