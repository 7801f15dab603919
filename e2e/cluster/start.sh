# shellcheck shell=bash
# Starting the daemons, in dependency order; each start is a no-op when the daemon already runs,
# which is what makes `up` re-runnable and lets it recover after processes were killed.

kubectl_admin() {
	kubectl --kubeconfig "$KUBECONFIG_PATH" --request-timeout=10s "$@"
}

start_base() {
	daemon etcd /usr/bin/etcd --name kuberunner-e2e --data-dir "$STATE/etcd" \
		--listen-client-urls http://127.0.0.1:12379 --advertise-client-urls http://127.0.0.1:12379 \
		--listen-peer-urls http://127.0.0.1:12380 --initial-advertise-peer-urls http://127.0.0.1:12380 \
		--initial-cluster kuberunner-e2e=http://127.0.0.1:12380 --listen-metrics-urls "" \
		--unsafe-no-fsync --log-level warn
	daemon registry /usr/bin/docker-registry serve "$STATE/etc/registry.yml"
	daemon buildkitd "$BUILDKIT_BIN/buildkitd" --config "$STATE/etc/buildkitd.toml" --root "$CACHE/buildkitd"
	daemon containerd /usr/bin/containerd --config "$STATE/etc/containerd.toml"
	wait_for etcd 30 curl -fsS http://127.0.0.1:12379/health
	wait_for registry 30 curl -fsS "http://$REGISTRY/v2/"
	wait_for buildkitd 30 buildctl_host debug workers
	wait_for containerd 30 ctr --address "$CONTAINERD_SOCK" version
}

start_control_plane() {
	daemon kube-apiserver "$K8S_BIN/kube-apiserver" \
		--advertise-address="$NODE_IP" --bind-address="$NODE_IP" --secure-port=6443 \
		--etcd-servers=http://127.0.0.1:12379 \
		--service-cluster-ip-range="$SERVICE_CIDR" \
		--client-ca-file="$PKI/ca.crt" \
		--tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
		--kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
		--kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
		--kubelet-certificate-authority="$PKI/ca.crt" \
		--kubelet-preferred-address-types=InternalIP \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
		--authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
		--allow-privileged=true --profiling=false --v=1
	wait_for "the API server" 60 kubectl_admin get --raw /readyz
	daemon kube-controller-manager "$K8S_BIN/kube-controller-manager" \
		--kubeconfig="$STATE/controller-manager.kubeconfig" \
		--authentication-kubeconfig="$STATE/controller-manager.kubeconfig" \
		--authorization-kubeconfig="$STATE/controller-manager.kubeconfig" \
		--bind-address=127.0.0.1 --secure-port=0 --leader-elect=false \
		--cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
		--root-ca-file="$PKI/ca.crt" --service-account-private-key-file="$PKI/sa.key" \
		--use-service-account-credentials=true --service-cluster-ip-range="$SERVICE_CIDR" \
		--profiling=false --v=1
	daemon kube-scheduler "$K8S_BIN/kube-scheduler" \
		--kubeconfig="$STATE/scheduler.kubeconfig" \
		--authentication-kubeconfig="$STATE/scheduler.kubeconfig" \
		--authorization-kubeconfig="$STATE/scheduler.kubeconfig" \
		--bind-address=127.0.0.1 --secure-port=0 --leader-elect=false --profiling=false --v=1
}

start_node() {
	mkdir -p "$KUBELET_DIR"
	install_seccomp_profiles
	daemon kubelet "$K8S_BIN/kubelet" \
		--config="$STATE/etc/kubelet.yaml" --kubeconfig="$STATE/kubelet.kubeconfig" \
		--container-runtime-endpoint="unix://$CONTAINERD_SOCK" \
		--hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --root-dir="$KUBELET_DIR" --v=1
	daemon kube-proxy "$K8S_BIN/kube-proxy" --config="$STATE/etc/kube-proxy.yaml" --v=1
}

# install_seccomp_profiles puts the Localhost seccomp profiles job pods name where the kubelet
# looks them up, <--root-dir>/seccomp: kuberunner/buildkit-rootless.json for the BuildKit
# sidecar (buildkit.SeccompProfileName). `down` removes $KUBELET_DIR, so every start installs it.
install_seccomp_profiles() {
	install -D -m 0644 "$REPO_DIR/manifests/seccomp/buildkit-rootless.json" \
		"$KUBELET_DIR/seccomp/kuberunner/buildkit-rootless.json"
}

DAEMONS=(etcd registry buildkitd containerd kube-apiserver kube-controller-manager kube-scheduler
	kubelet kube-proxy)

# all_alive fails naming the first daemon that is not running (one that exited right after start).
all_alive() {
	local name
	for name in "${DAEMONS[@]}"; do
		daemon_alive "$name" || die "$name is not running (see $LOGS/$name.log)"
	done
}

# smoke_test: the node is Ready and a pod from the local registry ran to completion.
smoke_test() {
	wait_for "node $NODE_NAME to register" 60 kubectl_admin get node "$NODE_NAME"
	kubectl_admin wait --for=condition=Ready "node/$NODE_NAME" --timeout=120s >/dev/null
	# Pods are refused until the controller manager has made the default service account.
	wait_for "the default service account" 60 kubectl_admin get serviceaccount default
	kubectl_admin delete pod kr-smoke --ignore-not-found --wait=true >/dev/null
	kubectl_admin run kr-smoke --image="$IMAGE_BUSYBOX" --restart=Never -- echo kuberunner-e2e-ok >/dev/null
	kubectl_admin wait --for=jsonpath='{.status.phase}'=Succeeded pod/kr-smoke --timeout=120s >/dev/null
	[[ $(kubectl_admin logs kr-smoke) == kuberunner-e2e-ok ]] || die "smoke pod printed the wrong thing"
	kubectl_admin delete pod kr-smoke --wait=false >/dev/null
	all_alive
}
