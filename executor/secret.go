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
	if cfg, ok, err := dockerConfigJSON(job.Credentials); err != nil {
		return nil, err
	} else if ok {
		s.Type = corev1.SecretTypeDockerConfigJson
		s.Data[corev1.DockerConfigJsonKey] = cfg
	}
	return s, nil
}

type dockerAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Auth     string `json:"auth"`
}

// dockerConfigJSON renders the job's registry credentials as ~/.docker/config.json.
func dockerConfigJSON(creds []jobspec.Credential) ([]byte, bool, error) {
	auths := map[string]dockerAuth{}
	for _, c := range creds {
		if c.Type != "registry" || c.URL == "" {
			continue
		}
		auths[c.URL] = dockerAuth{
			Username: c.Username,
			Password: c.Password,
			Auth:     base64.StdEncoding.EncodeToString([]byte(c.Username + ":" + c.Password)),
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
