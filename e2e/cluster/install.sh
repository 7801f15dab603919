# shellcheck shell=bash
# Installs the Debian packages the cluster runs on; a no-op when they are all present.

DEB_PACKAGES=(containerd runc containernetworking-plugins etcd-server docker-registry busybox-static
	debootstrap uidmap rootlesskit iptables conntrack git libcap2-bin openssl curl gcc libc6-dev)

missing_packages() {
	local p
	for p in "${DEB_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
	done
}

install_packages() {
	local missing
	mapfile -t missing < <(missing_packages)
	((${#missing[@]} == 0)) && return 0
	command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get: the harness needs a Debian-like system"
	# The packages' own services (containerd, etcd, docker-registry) must not start: the harness
	# runs its own instances on its own addresses. policy-rc.d is how Debian says "do not start".
	local policy=/usr/sbin/policy-rc.d own_policy=
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
		own_policy=1
	fi
	log "installing ${missing[*]}"
	quiet apt-get update -q
	DEBIAN_FRONTEND=noninteractive quiet apt-get install -y -q --no-install-recommends "${missing[@]}"
	[[ -z $own_policy ]] || rm -f "$policy"
}
