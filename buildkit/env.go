package buildkit

// The environment of a job container that builds or tags images: the executor sets it, the
// build and tag commands read it.
const (
	// HostEnv is the daemon's address, as buildctl reads it.
	HostEnv = "BUILDKIT_HOST"
	// DockerConfigEnv is the directory of the Docker-style config.json holding the job's
	// registry credentials, as docker reads it.
	DockerConfigEnv = "DOCKER_CONFIG"
	// InsecureRegistriesEnv lists host:port of registries reached over plain HTTP,
	// separated by commas.
	InsecureRegistriesEnv = "KUBERUNNER_INSECURE_REGISTRIES"
)
