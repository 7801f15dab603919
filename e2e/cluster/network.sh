# shellcheck shell=bash
# The node address, the pod network's configuration and the rule keeping pod traffic on the machine.
#
# The kernel here has no dummy module; a bridge with no ports holding one /32 is a local address
# all the same: the API server advertises it, the kubelet serves on it, pods reach it via krcni0.

network_up() {
	if ! ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then
		ip link add "$NODE_BRIDGE" type bridge
	fi
	ip addr replace "$NODE_IP/32" dev "$NODE_BRIDGE"
	ip link set "$NODE_BRIDGE" up
	# Remember the machine's own setting so that down puts it back.
	[[ -e $STATE/ip_forward.orig ]] || cat /proc/sys/net/ipv4/ip_forward >"$STATE/ip_forward.orig"
	sysctl -qw net.ipv4.ip_forward=1
	# Without this a pod cannot reach a ClusterIP whose endpoint is another pod on the same bridge.
	if [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]]; then
		sysctl -qw net.bridge.bridge-nf-call-iptables=1
	fi
	egress_rule_up
	write_cni_config
}

# The egress rule lives in the mangle table: kube-proxy prepends its own ACCEPT rules to the
# filter table's FORWARD chain, and mangle FORWARD is traversed before any of them.
egress_rule_up() {
	iptables -w -t mangle -N "$EGRESS_CHAIN" 2>/dev/null || iptables -w -t mangle -F "$EGRESS_CHAIN"
	iptables -w -t mangle -A "$EGRESS_CHAIN" -o "$CNI_BRIDGE" -j RETURN
	iptables -w -t mangle -A "$EGRESS_CHAIN" -o "$NODE_BRIDGE" -j RETURN
	iptables -w -t mangle -A "$EGRESS_CHAIN" -j DROP
	if ! iptables -w -t mangle -C FORWARD -s "$POD_CIDR" -j "$EGRESS_CHAIN" 2>/dev/null; then
		iptables -w -t mangle -I FORWARD 1 -s "$POD_CIDR" -j "$EGRESS_CHAIN"
	fi
}

write_cni_config() {
	mkdir -p "$STATE/cni/net.d" "$STATE/cni/ipam"
	cat >"$STATE/cni/net.d/10-kuberunner-e2e.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "kuberunner-e2e",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CNI_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$STATE/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    }
  ]
}
EOF
}

network_down() {
	while iptables -w -t mangle -D FORWARD -s "$POD_CIDR" -j "$EGRESS_CHAIN" 2>/dev/null; do :; done
	if iptables -w -t mangle -n -L "$EGRESS_CHAIN" >/dev/null 2>&1; then
		iptables -w -t mangle -F "$EGRESS_CHAIN"
		iptables -w -t mangle -X "$EGRESS_CHAIN"
	fi
	# kube-proxy's and the kubelet's chains: kube-proxy --cleanup leaves some behind (canaries,
	# KUBE-FIREWALL), so every KUBE- chain goes, after the rules that jump to them.
	local cmd
	for cmd in iptables ip6tables; do remove_kube_chains "$cmd"; done
	if [[ -e $STATE/ip_forward.orig ]]; then
		sysctl -qw net.ipv4.ip_forward="$(cat "$STATE/ip_forward.orig")"
		rm -f "$STATE/ip_forward.orig"
	fi
	local dev
	for dev in "$CNI_BRIDGE" "$NODE_BRIDGE"; do
		if ip link show "$dev" >/dev/null 2>&1; then ip link del "$dev"; fi
	done
}

# remove_kube_chains IPTABLES: deletes the KUBE-* chains and the built-in chains' jumps to them.
remove_kube_chains() {
	local cmd=$1 table rule chain
	command -v "$cmd-save" >/dev/null || return 0
	for table in filter nat mangle; do
		"$cmd-save" -t "$table" 2>/dev/null | grep -E '^-A [A-Z]+ .*-j KUBE-' | grep -v '^-A KUBE-' |
			while read -r rule; do
				# eval: the saved rule quotes its comments the way a shell does.
				eval "$cmd -w -t $table ${rule/#-A/-D}" 2>/dev/null || true
			done || true
		for chain in $("$cmd-save" -t "$table" 2>/dev/null | sed -n 's/^:\(KUBE-[^ ]*\) .*/\1/p'); do
			"$cmd" -w -t "$table" -F "$chain" 2>/dev/null || true
		done
		for chain in $("$cmd-save" -t "$table" 2>/dev/null | sed -n 's/^:\(KUBE-[^ ]*\) .*/\1/p'); do
			"$cmd" -w -t "$table" -X "$chain" 2>/dev/null || true
		done
	done
}
