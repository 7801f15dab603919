# The kuberunner image: the runner Deployment runs kuberunner, and every job pod's "prepare" init
# container and trace shipper run kuberunner-agent, which clones the repository and copies
# itself into the pod (and, for deploy jobs, kubectl: put a static kubectl of the cluster's
# version beside the binaries first). Cloning needs git (and CA certificates), so the image is
# the static binaries on a base that has them, as gitlab-runner's helper image is.
#
# BASE names that base image. Nothing here is pulled from the internet on its own: the local
# test cluster passes its Debian image with git (e2e/cluster builds it with debootstrap):
#
#   make build && cp "$(command -v kubectl)" .   # a static kubectl
#   buildctl build --frontend dockerfile.v0 --local context=. --local dockerfile=. \
#     --opt build-arg:BASE=<registry>/debian-git:bookworm --output type=image,name=...
#   docker buildx build --build-arg BASE=alpine/git:latest -t kuberunner .   # elsewhere
ARG BASE=alpine/git:latest
FROM ${BASE}
COPY kuberunner kuberunner-agent kubectl /usr/local/bin/
# Job pods run as any user; the binaries only need to be readable and executable by all.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/kuberunner"]
