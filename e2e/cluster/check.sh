# shellcheck shell=bash
# check-clean: lists whatever of the cluster is left on the machine; non-zero when anything is.

check_clean() {
	local left=0 name pid
	for name in "$PIDS"/*.pid; do
		[[ -e $name ]] || continue
		name=$(basename "$name" .pid)
		if daemon_alive "$name"; then
			echo "process: $name (pid $(<"$PIDS/$name.pid"))"
			left=1
		fi
	done
	for pid in $(cluster_pids | sort -un); do
		echo "process: $pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120)"
		left=1
	done
	local d m
	for d in "$STATE" "$RUN_DIR" "$KUBELET_DIR" "$CACHE/buildkitd"; do
		for m in $(mounts_under "$d"); do
			echo "mount: $m"
			left=1
		done
	done
	if iptables -w -t mangle -n -L "$EGRESS_CHAIN" >/dev/null 2>&1; then
		echo "iptables: chain $EGRESS_CHAIN in table mangle"
		left=1
	fi
	local t cmd
	for cmd in iptables ip6tables; do
		for t in filter nat mangle; do
			if "$cmd-save" -t "$t" 2>/dev/null | grep -q '^:KUBE-'; then
				echo "$cmd: kube-proxy/kubelet chains in table $t"
				left=1
			fi
		done
	done
	for d in "$NODE_BRIDGE" "$CNI_BRIDGE"; do
		if ip link show "$d" >/dev/null 2>&1; then
			echo "interface: $d"
			left=1
		fi
	done
	return "$left"
}
