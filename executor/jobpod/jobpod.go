// Package jobpod is the contract between the pod builder (package executor) and the program
// that runs inside the job pod (package executor/agent): where things are in the pod, the
// agent's configuration file and the failure record it leaves behind. Both sides import it
// and nothing else of each other, as Tekton's entrypoint shares its paths: the pod builder
// stays free of the agent's GitLab client and the agent of client-go. It also names the
// labels, annotations and containers that readers outside the runner rely on (meta.go).
package jobpod

import (
	"encoding/json"
	"os"
)

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
	// Agent is the agent's command on the helper image's PATH, which prepare and the trace
	// shipper run: a binary of its own beside the runner's (cmd/kuberunner-agent), so that
	// the runner does not link what only pods need.
	Agent = "kuberunner-agent"
	// BinDir is the shared volume the prepare step copies the agent's binary into.
	BinDir = "/kr/bin"
	// Binary is the agent's path in the build container. It is named kuberunner there,
	// the name job scripts call it by (kuberunner build, kuberunner tag).
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
	// Trace is where the pod's part of the trace begins; set just before the pod is created.
	Trace *Trace `json:"trace,omitempty"`
	// PrepareInShipper says prepare runs in the shipper's postStart hook rather than in
	// an init container of its own, so the build container's agent looks for its outcome
	// in TraceDir. Every container start costs the kubelet one relist of its containers
	// (a second by default): the hook makes the job's pod one container shorter.
	PrepareInShipper bool `json:"prepare_in_shipper,omitempty"`
}

// Failure is the termination message of an agent that failed for a reason other than the
// script's exit code, so the executor can report GitLab's failure reason.
type Failure struct {
	Reason  string `json:"reason"` // a jobspec.FailureReason
	Message string `json:"message"`
}

// ParseFailure reads a Failure the agent wrote; false when b is none (empty, another
// format, no reason): a container's termination message may be anything.
func ParseFailure(b []byte) (Failure, bool) {
	var f Failure
	if len(b) == 0 || json.Unmarshal(b, &f) != nil || f.Reason == "" {
		return Failure{}, false
	}
	return f, true
}

// The job's trace leaves the pod through the shipper, a native sidecar that sends it to
// GitLab itself: the kubelet's log API rotates and loses what a reader has not read yet, and
// a runner restart would lose it all. Files in TraceDir, an emptyDir shared by the shipper,
// prepare and build:
const (
	// TraceDir is the trace volume's mount point.
	TraceDir = "/kr/trace"
	// TraceLog is the masked output of prepare and then of the build container, appended
	// in order. Its first byte is the trace's byte Trace.Offset.
	TraceLog = "log"
	// TraceVerdict is the agent's Verdict, written (by rename) once its output is complete.
	TraceVerdict = "verdict"
	// TraceCancel exists once GitLab asked for a graceful cancel: the agent stops its script.
	TraceCancel = "cancel"
	// TraceProgress is the shipper's ShipperState, rewritten at every acknowledged patch,
	// so a restarted shipper resumes and the agent sees how far behind it is.
	TraceProgress = "progress"
	// TracePrepared exists once prepare, run by the shipper's postStart hook, is over, and
	// TracePrepareFailure then holds its Failure if it failed. A failing hook would only
	// get the shipper restarted, so the hook always succeeds and the build container's
	// agent reports prepare's failure instead of running the job.
	TracePrepared       = "prepared"
	TracePrepareFailure = "prepare-failure"
	// ShipperContainer is the shipper's container name.
	ShipperContainer = "trace"
)

// Trace is where the pod's part of the trace starts and how it is shipped.
type Trace struct {
	// Offset and CRC are the runner's part before the pod's: its length and its crc32
	// (IEEE), so the pod continues both.
	Offset int64  `json:"offset"`
	CRC    uint32 `json:"crc"`
	// Limit is output_limit in bytes over the whole trace; 0 means none.
	Limit int64 `json:"limit,omitempty"`
	// IntervalMS replaces the server's trace update interval when set (tests);
	// KeepAliveMS is the silence after which the shipper sends a keep-alive.
	IntervalMS  int64 `json:"interval_ms,omitempty"`
	KeepAliveMS int64 `json:"keep_alive_ms,omitempty"`
	// MaxLag bounds how many bytes the agent may write ahead of what GitLab acknowledged:
	// past it, the job's writes wait for the shipper instead of bytes being dropped.
	MaxLag int64 `json:"max_lag,omitempty"`
}

// Verdict is how the agent's job ended, by the agent's own account.
type Verdict struct {
	ExitCode int    `json:"exit_code"`
	Reason   string `json:"reason,omitempty"` // a jobspec.FailureReason; "" on success
	Message  string `json:"message,omitempty"`
	// Stopped says a SIGTERM the agent was not told about ended the script (a deletion,
	// an eviction): only the runner, which sees the pod, can tell what happened.
	Stopped bool `json:"stopped,omitempty"`
}

// ShipperState is how far the shipper got: its progress file and its termination message.
type ShipperState struct {
	// Offset and CRC describe the trace GitLab acknowledged: its length and crc32.
	Offset int64  `json:"offset"`
	CRC    uint32 `json:"crc"`
	// Consumed is how many bytes of TraceLog are behind the shipper (sent or cut by the limit).
	Consumed int64 `json:"consumed"`
	// Complete: everything written to TraceLog reached GitLab (or was cut by the output
	// limit). Without it the job's log may have lost its end, and the job is not a success.
	Complete bool `json:"complete,omitempty"`
	// Reported: the job's final state reached GitLab; nobody else may send one.
	Reported bool `json:"reported,omitempty"`
	// Gone: GitLab dropped the job (cancelled or deleted); no final state is wanted.
	Gone bool `json:"gone,omitempty"`
	// State, Reason and ExitCode are what was reported.
	State    string `json:"state,omitempty"`
	Reason   string `json:"reason,omitempty"`
	ExitCode int    `json:"exit_code,omitempty"`
}

// WriteJSON writes v to path whole or not at all (by rename), so the other side of the
// trace volume never reads a half-written verdict or progress.
func WriteJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path+".tmp", b, 0o644); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}
