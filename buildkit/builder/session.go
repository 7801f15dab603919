package builder

import (
	"fmt"
	"os"

	"github.com/docker/cli/cli/config"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth/authprovider"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
)

// session is what the daemon may ask the client for during the build: registry credentials
// from the Docker config (the daemon pulls and pushes with them, the client never sees a
// token) and the --secret values.
func (o BuildOptions) session() ([]session.Attachable, error) {
	dir := o.DockerConfigDir
	if dir == "" {
		dir = config.Dir() // $DOCKER_CONFIG, else ~/.docker
	}
	cfg, err := config.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("docker config in %s: %w", dir, err)
	}
	auth := authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{
		AuthConfigProvider: authprovider.LoadAuthConfig(cfg),
	})
	sources := make([]secretsprovider.Source, 0, len(o.Secrets))
	for _, s := range o.Secrets {
		if s.Env != "" {
			if _, ok := os.LookupEnv(s.Env); !ok {
				return nil, fmt.Errorf("secret %s: variable %s is not set", s.ID, s.Env)
			}
		}
		sources = append(sources, secretsprovider.Source{ID: s.ID, Env: s.Env, FilePath: s.Src})
	}
	store, err := secretsprovider.NewStore(sources)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return []session.Attachable{auth, secretsprovider.NewSecretProvider(store)}, nil
}
