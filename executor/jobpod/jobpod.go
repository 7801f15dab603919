// Package jobpod is the contract between the pod builder (package executor) and the program
// that runs inside the job pod (package executor/step): where things are in the pod, the
// agent's configuration file and the failure record it leaves behind. Both sides import it
// and nothing else of each other, as Tekton's entrypoint shares its paths: the pod builder
// stays free of the agent's GitLab client and the agent of client-go.
package jobpod

// Where things are inside a job pod.
const (
	// JobDir holds the per-job Secret: JobFile and ConfigFile, read-only.
	JobDir = "/kr/job"
	// JobFile is the whole job payload (jobspec.Job, with the runner's variables added).
	JobFile = "job.json"
	// ConfigFile is the agent's Config.
	ConfigFile = "agent.json"
	// BuildKitConfigFile is the key of buildkitd's configuration (registries it may
	// reach over plain HTTP) in the job's Secret; only the BuildKit sidecar mounts it.
	BuildKitConfigFile = "buildkitd.toml"
	// KubeconfigFile is a deploy job's kubeconfig, in JobDir; KUBECONFIG points at it.
	KubeconfigFile = "kubeconfig"
	// DockerConfigDir holds config.json with the job's registry credentials;
	// DOCKER_CONFIG points at it.
	DockerConfigDir = JobDir + "/docker"
	// BinDir is the shared volume the prepare step copies the kuberunner binary into.
	BinDir = "/kr/bin"
	// Binary is the agent's path in the build container.
	Binary = BinDir + "/kuberunner"
	// CacheDir is where the cache volume is mounted when the runner has one.
	CacheDir = "/kr/cache"
	// BuildsDir is CI_BUILDS_DIR, the workspace volume.
	BuildsDir = "/builds"
	// TerminationLog is where the agent leaves a Failure for the executor to read from the
	// container's terminated state; Kubernetes' default terminationMessagePath.
	TerminationLog = "/dev/termination-log"
)

// Config is what the runner tells the agent besides the job itself.
type Config struct {
	// GitLabURL is the runner's GitLab base URL, for artifact downloads and uploads.
	GitLabURL string `json:"gitlab_url"`
	// BuildsDir and ProjectDir are CI_BUILDS_DIR and CI_PROJECT_DIR.
	BuildsDir  string `json:"builds_dir"`
	ProjectDir string `json:"project_dir"`
	// CacheDir is the cache store's folder; CacheURL, with no CacheDir, a cache server
	// (GET and PUT of CacheURL/<key> with the job token); neither disables the cache.
	CacheDir string `json:"cache_dir,omitempty"`
	CacheURL string `json:"cache_url,omitempty"`
	// Kubectl asks prepare to copy the helper image's kubectl into BinDir (deploy jobs).
	Kubectl bool `json:"kubectl,omitempty"`
	// Entrypoint is the job image's entrypoint override: the shell runs as its arguments.
	Entrypoint []string `json:"entrypoint,omitempty"`
}

// Failure is the termination message of an agent that failed for a reason other than the
// script's exit code, so the executor can report GitLab's failure reason.
type Failure struct {
	Reason  string `json:"reason"` // a jobspec.FailureReason
	Message string `json:"message"`
}
