package executor

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/jobspec"
)

// buildSecret makes the per-job Secret: everything secret about the job lives here and
// nowhere in the pod spec. It holds the job payload and the agent's config (mounted at
// /kr/job), the value of each secret variable the services reference, and, when the job
// has registry credentials, .dockerconfigjson: then the Secret is of the dockerconfigjson
// type so the pod can name it as an image pull secret. One object per job keeps the
// API calls to one create, one owner update and one delete.
func buildSecret(meta metav1.ObjectMeta, job *jobspec.Job, agent jobpod.Config, serviceVars bool) (*corev1.Secret, error) {
	jobJSON, err := json.Marshal(job)
	if err != nil {
		return nil, fmt.Errorf("encode job: %w", err)
	}
	agentJSON, err := json.Marshal(agent)
	if err != nil {
		return nil, fmt.Errorf("encode agent config: %w", err)
	}
	s := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: meta,
		Type:       corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			jobpod.JobFile:    jobJSON,
			jobpod.ConfigFile: agentJSON,
		},
	}
	if serviceVars {
		for _, v := range job.Variables {
			if v.Secret() && !v.File && envName.MatchString(v.Key) {
				s.Data[secretEnvKey(v.Key)] = []byte(v.Value) // a later duplicate wins
			}
		}
	}
	if cfg, ok, err := dockerConfigJSON(job); err != nil {
		return nil, err
	} else if ok {
		s.Type = corev1.SecretTypeDockerConfigJson
		s.Data[corev1.DockerConfigJsonKey] = cfg
	}
	return s, nil
}

type dockerAuth struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Auth     string `json:"auth,omitempty"`
}

// dockerConfigJSON renders the job's registry credentials as a Docker config.json, for the
// kubelet's image pulls and for the job's own builds and tags. Later sources win for the
// same registry, in GitLab's order of precedence: the payload's registry credentials,
// CI_REGISTRY_USER/CI_REGISTRY_PASSWORD for CI_REGISTRY, then DOCKER_AUTH_CONFIG.
func dockerConfigJSON(job *jobspec.Job) ([]byte, bool, error) {
	auths := map[string]dockerAuth{}
	add := func(registry, user, password string) {
		auths[registry] = dockerAuth{
			Username: user,
			Password: password,
			Auth:     base64.StdEncoding.EncodeToString([]byte(user + ":" + password)),
		}
	}
	for _, c := range job.Credentials {
		if c.Type == "registry" && c.URL != "" {
			add(c.URL, c.Username, c.Password)
		}
	}
	vars := job.Variables
	if r, u, p := vars.Get("CI_REGISTRY"), vars.Get("CI_REGISTRY_USER"), vars.Get("CI_REGISTRY_PASSWORD"); r != "" && u != "" && p != "" {
		add(r, u, p)
	}
	if raw := vars.Get("DOCKER_AUTH_CONFIG"); raw != "" {
		var cfg struct {
			Auths map[string]dockerAuth `json:"auths"`
		}
		// The value is secret: the error must not quote it.
		if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
			return nil, false, fmt.Errorf("%w: DOCKER_AUTH_CONFIG is not a Docker config.json (a JSON object with \"auths\")", ErrInvalidJob)
		}
		for registry, a := range cfg.Auths {
			if a.Auth == "" {
				a.Auth = base64.StdEncoding.EncodeToString([]byte(a.Username + ":" + a.Password))
			}
			auths[registry] = a
		}
	}
	if len(auths) == 0 {
		return nil, false, nil
	}
	b, err := json.Marshal(map[string]any{"auths": auths})
	if err != nil {
		return nil, false, fmt.Errorf("encode registry credentials: %w", err)
	}
	return b, true, nil
}
