package charts_test

import (
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kuberunner/kuberunner/config"
)

// kinds lists what was rendered, as "Kind namespace/name", sorted.
func kinds(t *testing.T, objs []runtime.Object) []string {
	t.Helper()
	var out []string
	for _, o := range objs {
		m, err := meta.Accessor(o)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o.GetObjectKind().GroupVersionKind().Kind+" "+m.GetNamespace()+"/"+m.GetName())
	}
	slices.Sort(out)
	return out
}

func TestDefaultsRenderARunner(t *testing.T) {
	t.Parallel()
	objs := mustTemplate(t, "")
	want := []string{
		"Deployment ci-runner/kr-kuberunner",
		"NetworkPolicy ci-runner/kr-kuberunner", "NetworkPolicy ci-runner/kr-kuberunner-jobs",
		"Role ci-runner/kr-kuberunner", "RoleBinding ci-runner/kr-kuberunner",
		"Secret ci-runner/kr-kuberunner-config", "Service ci-runner/kr-kuberunner", "ServiceAccount ci-runner/kr-kuberunner",
	}
	if diff := cmp.Diff(want, kinds(t, objs)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	d := one[*appsv1.Deployment](t, objs)
	spec := d.Spec.Template.Spec
	rb := one[*rbacv1.RoleBinding](t, objs)
	wantSubjects := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: spec.ServiceAccountName, Namespace: releaseNS}}
	if diff := cmp.Diff(wantSubjects, rb.Subjects); diff != "" {
		t.Errorf("RoleBinding subjects (-want +got):\n%s", diff)
	}
	if rb.RoleRef.Name != one[*rbacv1.Role](t, objs).Name {
		t.Errorf("RoleBinding refers to Role %q, not the chart's", rb.RoleRef.Name)
	}
	if sa := one[*corev1.ServiceAccount](t, objs); sa.Name != spec.ServiceAccountName {
		t.Errorf("ServiceAccount %q, the Deployment uses %q", sa.Name, spec.ServiceAccountName)
	}
	if svc := one[*corev1.Service](t, objs); !maps.Equal(svc.Spec.Selector, d.Spec.Selector.MatchLabels) {
		t.Errorf("Service selector %v, Deployment selector %v", svc.Spec.Selector, d.Spec.Selector.MatchLabels)
	}
	if !maps.Equal(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
		t.Errorf("selector %v, pod labels %v", d.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
	}
	checkConfigMount(t, d, "kr-kuberunner-config")
}

// checkConfigMount: the config Secret is mounted whole at /etc/kuberunner, read-only and
// without subPath (a subPath mount never sees the Secret's updates); the only other
// writable path the runner needs is /tmp, for trace buffers.
func checkConfigMount(t *testing.T, d *appsv1.Deployment, secret string) {
	t.Helper()
	spec := d.Spec.Template.Spec
	want := []corev1.VolumeMount{{Name: "config", MountPath: "/etc/kuberunner", ReadOnly: true}, {Name: "tmp", MountPath: "/tmp"}}
	if diff := cmp.Diff(want, spec.Containers[0].VolumeMounts); diff != "" {
		t.Errorf("volume mounts (-want +got):\n%s", diff)
	}
	if got := spec.Containers[0].Args; !slices.Equal(got, []string{"run", "--config", config.DefaultPath}) {
		t.Errorf("args %q: want the config file of the mounted Secret", got)
	}
	volumes := map[string]corev1.VolumeSource{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v.VolumeSource
	}
	if s := volumes["config"].Secret; s == nil || s.SecretName != secret || s.DefaultMode == nil || *s.DefaultMode != 0o440 {
		t.Errorf("config volume %+v: want Secret %s, mode 0440", volumes["config"], secret)
	}
	if volumes["tmp"].EmptyDir == nil {
		t.Errorf("tmp volume %+v: want an emptyDir", volumes["tmp"])
	}
}

// TestRenderedConfigLoads loads the chart's config.yaml as `kuberunner run` does and checks
// it against the objects it is deployed with.
func TestRenderedConfigLoads(t *testing.T) {
	t.Parallel()
	objs := mustTemplate(t, `
concurrent: 7
checkInterval: 10s
jobNamespace: ci-jobs
runners: {name: team-a, image: "busybox:1", kubernetes: {cache_claim: ci-cache}}
image: {repository: registry.example.com/kuberunner, tag: v1.2.3}
`)
	cfg := renderedConfig(t, objs)
	c := one[*appsv1.Deployment](t, objs).Spec.Template.Spec.Containers[0]
	if len(cfg.Runners) != 1 {
		t.Fatalf("%d runners, want 1", len(cfg.Runners))
	}
	r := cfg.Runners[0]
	_, port, err := net.SplitHostPort(cfg.ListenAddress)
	if err != nil {
		t.Fatalf("listen_address: %v", err)
	}
	type settings struct {
		Concurrent                                   int
		CheckInterval                                time.Duration
		Name, URL, Token                             string
		Namespace, HelperImage, JobImage, CacheClaim string
		ListenPort, ShutdownJobs                     string
	}
	got := settings{cfg.Concurrent, cfg.CheckInterval.Std(), r.Name, r.URL, r.Token,
		r.Kubernetes.Namespace, r.Kubernetes.HelperImage, r.Kubernetes.Image, r.Kubernetes.CacheClaim,
		port, cfg.ShutdownJobs}
	want := settings{7, 10 * time.Second, "team-a", gitlabURL, token,
		"ci-jobs", "registry.example.com/kuberunner:v1.2.3", "busybox:1", "ci-cache",
		strconv.Itoa(int(c.Ports[0].ContainerPort)), "leave"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config.yaml (-want +got):\n%s", diff)
	}
	if c.Image != r.Kubernetes.HelperImage {
		t.Errorf("helper_image %q, runner image %q: job pods would run another binary", r.Kubernetes.HelperImage, c.Image)
	}
}

func renderedConfig(t *testing.T, objs []runtime.Object) *config.Config {
	t.Helper()
	s := one[*corev1.Secret](t, objs)
	data, ok := s.StringData["config.yaml"]
	if !ok {
		t.Fatalf("Secret %s has no config.yaml", s.Name)
	}
	cfg, err := config.Parse("config.yaml", []byte(data))
	if err != nil {
		t.Fatalf("the chart's config.yaml does not load: %v\n%s", err, data)
	}
	return cfg
}

// TestGracePeriodCoversShutdown: with shutdown_jobs: wait the runner needs a minute after
// shutdown_timeout to cancel what is left and report it, before the kubelet kills it.
func TestGracePeriodCoversShutdown(t *testing.T) {
	t.Parallel()
	objs := mustTemplate(t, "shutdownJobs: wait\n")
	cfg := renderedConfig(t, objs)
	grace := time.Duration(*one[*appsv1.Deployment](t, objs).Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
	if need := cfg.ShutdownTimeout.Std() + time.Minute; grace < need {
		t.Errorf("terminationGracePeriodSeconds %s: want at least shutdownTimeout + 1m = %s", grace, need)
	}
}

func TestTyposAndMissingValuesFail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, values, want string }{
		{"misspelt key", "concurent: 3\n", "additional properties 'concurent' not allowed"},
		{"misspelt nested key", "metrics: {serviceMonitor: {enable: true}}\n", "additional properties 'enable' not allowed"},
		{"duration without unit", "checkInterval: 3\n", "/checkInterval"},
		{"unknown shutdownJobs", "shutdownJobs: never\n", "/shutdownJobs"},
		{"no token", "runnerToken: null\n", "set gitlabUrl and runnerToken"},
		{"token and Secret", "existingSecret: mine\n", "not both"},
		{"no URL", "gitlabUrl: null\n", "set gitlabUrl and runnerToken"},
		{"URL without scheme", "gitlabUrl: gitlab.example.com\n", "/gitlabUrl"},
		{"job namespace in runners.kubernetes", "runners: {kubernetes: {namespace: x}}\n", "runners.kubernetes.namespace"},
		{"ServiceMonitor without metrics", "metrics: {enabled: false, serviceMonitor: {enabled: true}}\n", "needs metrics.enabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := template(t, tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("helm template with %q: error %v, want one saying %q", tc.values, err, tc.want)
			}
		})
	}
}

// TestSetTypoFails is the command line of the README: --set with a misspelt key.
func TestSetTypoFails(t *testing.T) {
	t.Parallel()
	_, err := runHelm(t, []string{"template", release, chartDir, "--set", "gitlabUrl=" + gitlabURL, "--set", "runnerToken=" + token, "--set", "concurent=3"})
	if err == nil || !strings.Contains(err.Error(), "concurent") {
		t.Errorf("helm template --set concurent=3: error %v, want one naming concurent", err)
	}
}

func TestLintStrict(t *testing.T) {
	t.Parallel()
	for _, set := range [][]string{
		{"gitlabUrl=" + gitlabURL, "runnerToken=" + token},
		{"existingSecret=kuberunner-config"},
		{"gitlabUrl=" + gitlabURL, "runnerToken=" + token, "metrics.serviceMonitor.enabled=true", "rbac.create=false", "jobNamespace=ci-jobs", "networkPolicy.enabled=false"},
	} {
		args := []string{"lint", "--strict", chartDir}
		for _, s := range set {
			args = append(args, "--set", s)
		}
		out, err := runHelm(t, args)
		if err != nil || strings.Contains(string(out), "[WARNING]") || strings.Contains(string(out), "[ERROR]") {
			t.Errorf("helm lint --strict --set %v: %v\n%s", set, err, out)
		}
	}
}
