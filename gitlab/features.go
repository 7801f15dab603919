package gitlab

import "runtime"

// Features is info.features of POST /jobs/request: what the runner can do. GitLab uses it to
// refuse jobs that need more (with runner_unsupported) and to pick wire formats, so it must
// tell the truth. Field names follow gitlab-runner's FeaturesInfo.
type Features struct {
	Variables               bool `json:"variables"`
	Image                   bool `json:"image"`
	Services                bool `json:"services"`
	Artifacts               bool `json:"artifacts"`
	Cache                   bool `json:"cache"`
	FallbackCacheKeys       bool `json:"fallback_cache_keys"`
	Shared                  bool `json:"shared"`
	UploadMultipleArtifacts bool `json:"upload_multiple_artifacts"`
	UploadRawArtifacts      bool `json:"upload_raw_artifacts"`
	Session                 bool `json:"session"`
	Terminal                bool `json:"terminal"`
	Refspecs                bool `json:"refspecs"`
	Masking                 bool `json:"masking"`
	Proxy                   bool `json:"proxy"`
	RawVariables            bool `json:"raw_variables"`
	ArtifactsExclude        bool `json:"artifacts_exclude"`
	MultiBuildSteps         bool `json:"multi_build_steps"`
	TraceReset              bool `json:"trace_reset"`
	TraceChecksum           bool `json:"trace_checksum"`
	TraceSize               bool `json:"trace_size"`
	VaultSecrets            bool `json:"vault_secrets"`
	Cancelable              bool `json:"cancelable"`
	ReturnExitCode          bool `json:"return_exit_code"`
	ServiceVariables        bool `json:"service_variables"`
	ServiceMultipleAliases  bool `json:"service_multiple_aliases"`
	ImageExecutorOpts       bool `json:"image_executor_opts"`
	ServiceExecutorOpts     bool `json:"service_executor_opts"`
	CancelGracefully        bool `json:"cancel_gracefully"`
	NativeStepsIntegration  bool `json:"native_steps_integration"`
	TwoPhaseJobCommit       bool `json:"two_phase_job_commit"`
	JobInputs               bool `json:"job_inputs"`
}

// DefaultFeatures is what kuberunner supports. token_mask_prefixes is not here on purpose:
// it is a job feature GitLab sends to the runner (job.features), not one the runner announces.
func DefaultFeatures() Features {
	return Features{
		Variables:               true,
		Image:                   true,
		Services:                true,
		Artifacts:               true,
		Cache:                   true,
		UploadMultipleArtifacts: true,
		UploadRawArtifacts:      true,
		Refspecs:                true,
		Masking:                 true,
		RawVariables:            true,
		ArtifactsExclude:        true,
		MultiBuildSteps:         true,
		TraceReset:              true,
		TraceChecksum:           true,
		TraceSize:               true,
		Cancelable:              true,
		ReturnExitCode:          true,
		ServiceVariables:        true,
		ServiceMultipleAliases:  true,
		CancelGracefully:        true,
		TwoPhaseJobCommit:       true,
	}
}

// runnerInfo is the info object of jobs/request and runners/verify.
type runnerInfo struct {
	Name         string   `json:"name"`
	Version      string   `json:"version,omitempty"`
	Revision     string   `json:"revision,omitempty"`
	Platform     string   `json:"platform"`
	Architecture string   `json:"architecture"`
	Executor     string   `json:"executor,omitempty"`
	Shell        string   `json:"shell,omitempty"`
	Features     Features `json:"features"`
}

func (c *Client) info() runnerInfo {
	return runnerInfo{
		Name:         "kuberunner",
		Version:      c.opts.Version,
		Revision:     c.opts.Revision,
		Platform:     runtime.GOOS,
		Architecture: runtime.GOARCH,
		Executor:     c.opts.Executor,
		Shell:        c.opts.Shell,
		Features:     c.opts.Features,
	}
}
