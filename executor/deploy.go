package executor

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/jobspec"
)

// environmentVariable names the job's GitLab environment; GitLab sends it for jobs with
// `environment:` and local pipelines set it the same way.
const environmentVariable = "CI_ENVIRONMENT_NAME"

// minTokenSeconds is the shortest lifetime the TokenRequest API grants.
const minTokenSeconds = 600

// deployFor is the first deploy entry whose environment pattern matches the job's
// environment, or nil: no entry, no token.
func (pc *PodConfig) deployFor(vars jobspec.Variables) *config.Deploy {
	env := vars.Get(environmentVariable)
	if env == "" {
		return nil
	}
	for i := range pc.Deploys {
		if environmentMatches(pc.Deploys[i].Environment, env) {
			return &pc.Deploys[i]
		}
	}
	return nil
}

// environmentMatches follows GitLab's environment scopes: * matches any run of
// characters, slashes included; everything else matches itself.
func environmentMatches(pattern, env string) bool {
	parts := strings.Split(pattern, "*")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(env)
}

// deployObjects are a deploy job's ServiceAccount and RoleBinding, both in the environment's
// namespace, so that all the runner may do there is in that namespace. The RoleBinding is
// owned by the ServiceAccount (set at creation): deleting the ServiceAccount removes both
// and voids its tokens. Nothing in the jobs' namespace can own them; cleanup deletes them
// and the sweep finds them by their labels.
func deployObjects(meta metav1.ObjectMeta, d *config.Deploy) (*corev1.ServiceAccount, *rbacv1.RoleBinding) {
	sa := &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: metav1.ObjectMeta{Name: meta.Name, Namespace: d.Namespace, Labels: meta.Labels},
		// The job gets its token through a TokenRequest, never a legacy token Secret.
		AutomountServiceAccountToken: ptr(false),
	}
	rb := &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: meta.Name, Namespace: d.Namespace, Labels: meta.Labels},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa.Name, Namespace: sa.Namespace}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: d.ClusterRole},
	}
	return sa, rb
}

// APIServer is how job pods reach the Kubernetes API: the address and CA of the runner's
// own connection.
type APIServer struct {
	Host   string
	CAData []byte
}

// deployKubeconfig is the kubeconfig a deploy job finds at $KUBECONFIG: the API server,
// the job's token and the environment's namespace as the default.
func deployKubeconfig(api APIServer, namespace, token string) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["cluster"] = &clientcmdapi.Cluster{Server: api.Host, CertificateAuthorityData: api.CAData}
	cfg.AuthInfos["job"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["deploy"] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: "job", Namespace: namespace}
	cfg.CurrentContext = "deploy"
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("write kubeconfig: %w", err)
	}
	return b, nil
}

// deployNamespaces are the namespaces deploy jobs may get RoleBindings in, each once.
func (pc *PodConfig) deployNamespaces() []string {
	var out []string
	for _, d := range pc.Deploys {
		if !slices.Contains(out, d.Namespace) {
			out = append(out, d.Namespace)
		}
	}
	return out
}
