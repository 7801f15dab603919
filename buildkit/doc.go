// Package buildkit owns image builds in job pods, at both ends:
//
//   - the daemon: how the BuildKit sidecar runs rootless, unprivileged, with no added
//     capabilities and a narrow seccomp profile (DaemonArgs, SecurityContext,
//     SeccompProfile); the executor puts these into the job pod. FINDINGS.md records the
//     experiments behind every setting;
//   - the client, in the job container: `kuberunner build` (Build: the Dockerfile frontend
//     on the sidecar's daemon, registry credentials and --secret values through the
//     session, registry cache import and export, push) and `kuberunner tag` (Tag: more
//     names for an image already pushed, copied through the registry API without a
//     rebuild), their flags' parsing (options.go), the environment the executor gives the
//     job container (env.go), and the exit code of the build step that failed (ExitCode).
//
// Only this package imports github.com/moby/buildkit.
package buildkit
