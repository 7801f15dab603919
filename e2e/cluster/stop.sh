# shellcheck shell=bash
# Tearing the cluster down: pods first (so their network and mounts are released by the kubelet
# and containerd), then the daemons by their recorded PIDs, then the network and the mounts.

ctr_k8s() {
	ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"
}

# pods_gone: containerd runs no task any more (pause sandboxes included).
pods_gone() {
	[[ -z $(ctr_k8s tasks ls -q 2>/dev/null) ]]
}

remove_pods() {
	# With no controllers left, nothing recreates what is deleted.
	stop_daemon kube-controller-manager
	stop_daemon kube-scheduler
	if daemon_alive kube-apiserver && daemon_alive kubelet && daemon_alive containerd; then
		kubectl_admin delete pods --all --all-namespaces --grace-period=0 --force --wait=false >/dev/null 2>&1 || true
		local end=$((SECONDS + 60))
		until pods_gone || ((SECONDS >= end)); do sleep 0.2; done
	fi
	stop_daemon kubelet
	stop_daemon kube-proxy
	stop_daemon kube-apiserver
	if daemon_alive containerd; then
		# Whatever the kubelet could not stop (it was dead already): straight through containerd.
		local id
		for id in $(ctr_k8s tasks ls -q 2>/dev/null); do
			ctr_k8s tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
			ctr_k8s tasks rm -f "$id" >/dev/null 2>&1 || true
		done
	fi
	stop_daemon containerd
	kill_leftovers
}

# Daemons from Debian packages: ours only when their command line names our state or socket.
PACKAGE_DAEMONS=" /usr/bin/etcd /usr/bin/docker-registry /usr/bin/containerd /usr/bin/containerd-shim-runc-v2 "

# cluster_pids lists this cluster's processes whatever the PID files say: binaries from the cache,
# package daemons pointed at our state (containerd's shims outlive containerd by design) and pod
# processes in the kubelet's cgroups. Never by process name alone.
cluster_pids() {
	local p exe cmd
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null) || continue
		if [[ $exe == "$CACHE/"* ]]; then
			echo "${p#/proc/}"
		elif [[ $PACKAGE_DAEMONS == *" $exe "* ]]; then
			cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
			if [[ $cmd == *"$CONTAINERD_SOCK"* || $cmd == *"$STATE/"* ]]; then echo "${p#/proc/}"; fi
		fi
	done
	local procs
	for procs in /sys/fs/cgroup/*/kubepods; do
		[[ -d $procs ]] || continue
		find "$procs" -name cgroup.procs -exec cat {} + 2>/dev/null
	done
}

kill_leftovers() {
	local pid
	for pid in $(cluster_pids | sort -u); do
		[[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
		kill -KILL "$pid" 2>/dev/null || true
	done
	local end=$((SECONDS + 10))
	while [[ -n $(cluster_pids) ]] && ((SECONDS < end)); do sleep 0.1; done
	# The kubelet's pod cgroups, now empty, deepest first.
	find /sys/fs/cgroup/*/kubepods -depth -type d -exec rmdir {} + 2>/dev/null || true
}

cluster_down() {
	remove_pods
	stop_daemon buildkitd
	stop_daemon registry
	stop_daemon etcd
	network_down
	local d
	for d in "$RUN_DIR" "$KUBELET_DIR" "$STATE" "$CACHE/buildkitd"; do unmount_under "$d"; done
	rm -rf "$RUN_DIR" "$KUBELET_DIR" /var/log/pods /var/log/containers
	# Runtime state goes; the logs stay for a post-mortem until the next fresh `up`.
	if [[ -d $STATE ]]; then
		find "$STATE" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} +
	fi
}
