# shellcheck shell=bash
# The cluster's own CA, certificates and kubeconfigs, made once per state directory.

# cert NAME SUBJECT [SANS]: an ECDSA key and a certificate signed by the cluster CA.
cert() {
	local name=$1 subject=$2 sans=${3:-}
	[[ -s $PKI/$name.crt ]] && return 0
	openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$name.key"
	local ext
	ext=$(mktemp)
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		echo "extendedKeyUsage=serverAuth,clientAuth"
		[[ -z $sans ]] || echo "subjectAltName=$sans"
	} >"$ext"
	openssl req -new -key "$PKI/$name.key" -subj "$subject" -out "$PKI/$name.csr"
	openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
		-days 365 -sha256 -extfile "$ext" -out "$PKI/$name.crt.tmp" 2>/dev/null
	mv "$PKI/$name.crt.tmp" "$PKI/$name.crt"
	rm -f "$ext" "$PKI/$name.csr"
}

# kubeconfig NAME CERT: a kubeconfig for the API server with the client certificate embedded,
# so the file can be copied elsewhere on the machine and still work.
kubeconfig() {
	local file=$1 cert=$2
	[[ -s $file ]] && return 0
	cat >"$file.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kuberunner-e2e
  cluster:
    server: https://$NODE_IP:6443
    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
users:
- name: $cert
  user:
    client-certificate-data: $(base64 -w0 <"$PKI/$cert.crt")
    client-key-data: $(base64 -w0 <"$PKI/$cert.key")
contexts:
- name: kuberunner-e2e
  context:
    cluster: kuberunner-e2e
    user: $cert
current-context: kuberunner-e2e
EOF
	chmod 600 "$file.tmp"
	mv "$file.tmp" "$file"
}

make_certs() {
	mkdir -p "$PKI"
	chmod 700 "$PKI"
	if [[ ! -s $PKI/ca.crt ]]; then
		openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/ca.key"
		openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=kuberunner-e2e-ca" -days 3650 -sha256 \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
			-out "$PKI/ca.crt"
	fi
	if [[ ! -s $PKI/sa.key ]]; then
		openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/sa.key"
		openssl ec -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
	fi
	local svc=kubernetes.default.svc
	cert apiserver "/CN=kube-apiserver" \
		"IP:$NODE_IP,IP:$API_SERVICE_IP,IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:$svc,DNS:$svc.cluster.local"
	cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
	cert kubelet-serving "/CN=system:node:$NODE_NAME" "IP:$NODE_IP,DNS:$NODE_NAME"
	cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
	cert admin "/O=system:masters/CN=kuberunner-e2e-admin"
	cert controller-manager "/CN=system:kube-controller-manager"
	cert scheduler "/CN=system:kube-scheduler"
	cert kube-proxy "/CN=system:kube-proxy"
	kubeconfig "$KUBECONFIG_PATH" admin
	kubeconfig "$STATE/kubelet.kubeconfig" kubelet
	kubeconfig "$STATE/controller-manager.kubeconfig" controller-manager
	kubeconfig "$STATE/scheduler.kubeconfig" scheduler
	kubeconfig "$STATE/kube-proxy.kubeconfig" kube-proxy
	chmod 600 "$PKI"/*.key
}
