# shellcheck shell=bash
# Builds the base images with the host buildkitd from local contexts (e2e/images/*, the repository
# Dockerfile) and pushes them to the local registry; nothing is pulled from outside the machine.

DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_SUITE=${DEBIAN_SUITE:-bookworm}

IMAGE_PAUSE=$REGISTRY/pause:3.10
IMAGE_BUSYBOX=$REGISTRY/busybox:1.35
IMAGE_DEBIAN_GIT=$REGISTRY/debian-git:$DEBIAN_SUITE
IMAGE_BUILDKIT=$REGISTRY/buildkit-rootless:$BUILDKIT_VERSION
IMAGE_KUBERUNNER=$REGISTRY/kuberunner:dev

buildctl_host() {
	"$BUILDKIT_BIN/buildctl" --addr "unix://$BUILDKIT_SOCK" "$@"
}

# rootfs_tarball NAME PACKAGES: a Debian minbase root filesystem as a tarball, cached.
rootfs_tarball() {
	local name=$1 packages=$2
	local tarball=$CACHE/rootfs/$name-$DEBIAN_SUITE.tar
	[[ -s $tarball ]] && return 0
	mkdir -p "$CACHE/rootfs"
	# One maker at a time: the prefetch and the image build may both ask for it.
	local lock
	exec {lock}>"$CACHE/rootfs/$name.lock"
	flock "$lock"
	if [[ -s $tarball ]]; then
		exec {lock}>&-
		return 0
	fi
	local dir=$CACHE/rootfs/$name.tmp
	unmount_under "$dir"
	rm -rf "$dir"
	debootstrap --variant=minbase --include="$packages" "$DEBIAN_SUITE" "$dir" "$DEBIAN_MIRROR" ||
		{ unmount_under "$dir"; return 1; }
	unmount_under "$dir"
	rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb
	# File capabilities and ownership must survive: they are part of the image.
	tar -C "$dir" --numeric-owner --xattrs --xattrs-include='security.capability' -cf "$tarball.tmp" .
	mv "$tarball.tmp" "$tarball"
	rm -rf "$dir"
	exec {lock}>&-
}

DEBIAN_GIT_PACKAGES=git,ca-certificates,bash
BUILDKIT_PACKAGES=uidmap,libcap2-bin,rootlesskit,runc,ca-certificates,passwd

# prefetch_rootfs starts making the root filesystems in the background, when they are missing.
prefetch_rootfs() {
	[[ -s $CACHE/rootfs/debian-git-$DEBIAN_SUITE.tar ]] ||
		rootfs_tarball debian-git "$DEBIAN_GIT_PACKAGES" >"$LOGS/debootstrap-debian-git.log" 2>&1 9>&- &
	[[ -s $CACHE/rootfs/buildkit-$DEBIAN_SUITE.tar ]] ||
		rootfs_tarball buildkit "$BUILDKIT_PACKAGES" >"$LOGS/debootstrap-buildkit.log" 2>&1 9>&- &
}

# context NAME: a fresh build context holding e2e/images/NAME.
context() {
	local ctx=$STATE/images/$1
	rm -rf "$ctx"
	mkdir -p "$ctx"
	cp -a "$E2E_DIR/images/$1/." "$ctx/"
	echo "$ctx"
}

# link_or_copy SRC DST: a hard link when the cache and the state share a file system.
link_or_copy() {
	ln -f "$1" "$2" 2>/dev/null || cp "$1" "$2"
}

# push NAME IMAGE CONTEXT DOCKERFILE_DIR [buildctl args...]: builds and pushes the image, unless
# the registry already holds it built from the same inputs (a content digest kept in the cache):
# sending a 250 MB root filesystem to buildkitd only to find it cached costs seconds per start.
push() {
	local name=$1 image=$2 ctx=$3 dfdir=$4
	shift 4
	local key stamp=$CACHE/images/$name.inputs
	key=$( {
		(cd "$ctx" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
		sha256sum <"$dfdir/Dockerfile"
		echo "$image $*"
	} | sha256sum)
	if [[ -s $stamp && $(<"$stamp") == "$key" ]] && registry_has "$image"; then
		return 0
	fi
	buildctl_host build --progress=plain --frontend dockerfile.v0 \
		--local context="$ctx" --local dockerfile="$dfdir" "$@" \
		--output "type=image,name=$image,push=true,registry.insecure=true" \
		>"$LOGS/image-$name.log" 2>&1 ||
		{ tail -n 30 "$LOGS/image-$name.log" >&2; return 1; }
	mkdir -p "$CACHE/images"
	echo "$key" >"$stamp"
}

# pinned REGISTRY/REPO:TAG: the name with its digest. Tags are rebuilt in place, and a node
# keeps running the copy it pulled first, so images.env names each image by digest.
pinned() {
	local ref=${1#"$REGISTRY"/} digest
	digest=$(curl -fsS -I \
		-H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
		"http://$REGISTRY/v2/${ref%:*}/manifests/${ref##*:}" | tr -d '\r' |
		awk -F': ' 'tolower($1) == "docker-content-digest" { print $2 }')
	[[ -n $digest ]] || die "the registry has no digest for $1"
	echo "$1@$digest"
}

# registry_has REGISTRY/REPO:TAG: the local registry has a manifest for it.
registry_has() {
	local ref=${1#"$REGISTRY"/}
	curl -fsS -o /dev/null -I \
		-H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
		"http://$REGISTRY/v2/${ref%:*}/manifests/${ref##*:}"
}

image_pause() {
	local ctx
	ctx=$(context pause)
	gcc -static -O2 -o "$ctx/pause" "$ctx/pause.c"
	push pause "$IMAGE_PAUSE" "$ctx" "$ctx"
}

image_busybox() {
	local ctx
	ctx=$(context busybox)
	cp /bin/busybox "$ctx/busybox"
	push busybox "$IMAGE_BUSYBOX" "$ctx" "$ctx"
}

image_debian_git() {
	rootfs_tarball debian-git "$DEBIAN_GIT_PACKAGES" >>"$LOGS/debootstrap-debian-git.log" 2>&1 ||
		{ tail -n 30 "$LOGS/debootstrap-debian-git.log" >&2; return 1; }
	local ctx
	ctx=$(context debian-git)
	link_or_copy "$CACHE/rootfs/debian-git-$DEBIAN_SUITE.tar" "$ctx/rootfs.tar"
	push debian-git "$IMAGE_DEBIAN_GIT" "$ctx" "$ctx"
}

image_buildkit() {
	rootfs_tarball buildkit "$BUILDKIT_PACKAGES" >>"$LOGS/debootstrap-buildkit.log" 2>&1 ||
		{ tail -n 30 "$LOGS/debootstrap-buildkit.log" >&2; return 1; }
	local ctx
	ctx=$(context buildkit-rootless)
	link_or_copy "$CACHE/rootfs/buildkit-$DEBIAN_SUITE.tar" "$ctx/rootfs.tar"
	cp "$BUILDKIT_BIN/buildkitd" "$BUILDKIT_BIN/buildctl" "$ctx/"
	push buildkit-rootless "$IMAGE_BUILDKIT" "$ctx" "$ctx"
}

# image_kuberunner builds the repository's Dockerfile around static builds of ./cmd/kuberunner
# (the runner) and ./cmd/kuberunner-agent (what job pods run), and the cluster's static kubectl.
image_kuberunner() {
	local ctx=$STATE/images/kuberunner
	rm -rf "$ctx" && mkdir -p "$ctx"
	local cmd
	for cmd in kuberunner kuberunner-agent; do
		if ! (cd "$REPO_DIR" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$ctx/$cmd" "./cmd/$cmd") \
			>"$LOGS/build-$cmd.log" 2>&1; then
			cat "$LOGS/build-$cmd.log" >&2
			die "./cmd/$cmd does not build"
		fi
	done
	# Deploy jobs get kubectl copied in from this image: the static one the cluster build made.
	cp "$K8S_BIN/kubectl" "$ctx/kubectl" || die "no kubectl in $K8S_BIN"
	# The base must hold git for the prepare step: the Debian image built just before.
	push kuberunner "$IMAGE_KUBERUNNER" "$ctx" "$REPO_DIR" \
		--opt build-arg:BASE="$(pinned "$IMAGE_DEBIAN_GIT")"
}

# build_images builds all images at once (buildkitd runs them concurrently) and writes
# images.env, the file e2e tests read the image names from.
build_images() {
	local -A jobs=()
	local fn rc=0
	for fn in image_pause image_busybox image_debian_git image_buildkit; do
		step "${fn#image_} image" "$fn" &
		jobs[$fn]=$!
	done
	for fn in "${!jobs[@]}"; do
		wait "${jobs[$fn]}" || { rc=1; log "building ${fn#image_} failed"; }
	done
	((rc == 0)) || return 1
	# kuberunner is built on the debian-git image, so it comes last.
	step "kuberunner image" image_kuberunner
	{
		echo "KR_REGISTRY=$REGISTRY"
		echo "KR_IMAGE_PAUSE=$(pinned "$IMAGE_PAUSE")"
		echo "KR_IMAGE_BUSYBOX=$(pinned "$IMAGE_BUSYBOX")"
		echo "KR_IMAGE_DEBIAN_GIT=$(pinned "$IMAGE_DEBIAN_GIT")"
		echo "KR_IMAGE_BUILDKIT=$(pinned "$IMAGE_BUILDKIT")"
		echo "KR_IMAGE_KUBERUNNER=$(pinned "$IMAGE_KUBERUNNER")"
	} >"$STATE/images.env"
}
