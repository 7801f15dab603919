# The kuberunner image: one static binary and the CA bundle, nothing else. It runs the runner
# Deployment and the prepare init container of job pods (which copies the binary into them).
#
# It needs no remote image: the binary is built beforehand (CGO_ENABLED=0, `make build`) and the
# CA bundle comes from a named build context, so the same file builds on a machine with no
# registry access:
#
#   make build
#   docker buildx build --build-context certs=/etc/ssl/certs -t kuberunner .
#   buildctl build --frontend dockerfile.v0 --local context=. --local dockerfile=. \
#     --local certs=/etc/ssl/certs --opt context:certs=local:certs --output type=image,name=...
FROM scratch
COPY --from=certs ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY kuberunner /usr/local/bin/kuberunner
# Job pods run as any user; the binary only needs to be readable and executable by all.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/kuberunner"]
