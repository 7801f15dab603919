#!/usr/bin/env bash
# e2e/run.sh (`make e2e`): brings the local cluster up (or reuses a running one), runs the e2e
# tests against it, and brings it down again unless KEEP_CLUSTER=1 or it was running already.
# After `down` it checks that nothing of the cluster is left (e2e/cluster/cluster check-clean).
#
#   KEEP_CLUSTER=1      leave the cluster running afterwards
#   E2E_EXTERNAL=1      use the cluster of $KUBECONFIG instead, with the images named by KR_*
#                       variables (see README.md, "Running the e2e tests on another cluster"); nothing is started or stopped
#   E2E_RUN=regexp      passed to go test -run
# e2e/README.md has the rest: one test by hand, KR_CHAOS_SEED, make bench.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
CLUSTER=$HERE/cluster/cluster

run_tests() {
	local args=(-tags e2e -count=1 -timeout 30m)
	[[ -z ${E2E_RUN:-} ]] || args+=(-run "$E2E_RUN")
	(cd "$REPO" && go test "${args[@]}" ./e2e/... ./manifests/... ./buildkit/...)
}

if [[ -n ${E2E_EXTERNAL:-} ]]; then
	: "${KUBECONFIG:?E2E_EXTERNAL=1 needs KUBECONFIG}"
	run_tests
	exit
fi

[[ $(id -u) -eq 0 ]] || { echo "e2e/run.sh: the local cluster needs root (or use E2E_EXTERNAL=1)" >&2; exit 1; }

eval "$("$CLUSTER" env)"
started=
if "$CLUSTER" status >/dev/null 2>&1; then
	kind=reused
else
	started=1
	kind=warm
	[[ -x $KR_KUBECTL && -x $(dirname "$KR_KUBECTL")/kubelet ]] || kind=cold
fi
t0=$SECONDS
if ! "$CLUSTER" up; then
	# The daemons' logs are printed above; what this run started does not outlive it.
	[[ -z $started || -n ${KEEP_CLUSTER:-} ]] || "$CLUSTER" down
	exit 1
fi
echo "cluster $kind start: $((SECONDS - t0))s"
eval "$("$CLUSTER" env)"
export KUBECONFIG KR_KUBECTL KR_IMAGES_ENV
export PATH=$(dirname "$KR_KUBECTL"):$PATH

rc=0
run_tests || rc=$?

if [[ -n $started && -z ${KEEP_CLUSTER:-} ]]; then
	"$CLUSTER" down
	if ! "$CLUSTER" check-clean; then
		echo "e2e/run.sh: cluster down left the above behind" >&2
		rc=1
	fi
else
	echo "cluster left running; KUBECONFIG=$KUBECONFIG (e2e/cluster/cluster down stops it)"
fi
exit "$rc"
