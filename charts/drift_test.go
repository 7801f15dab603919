package charts_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kuberunner/kuberunner/manifests"
)

// The chart and manifests/base are two ways to install one runner. manifests' tests prove
// the base's Role is exactly what the executor uses, its Deployment is locked down and its
// NetworkPolicies let in what they should; these tests hold the chart to the base, so a change to either that is not made to both fails.

func TestRoleMatchesBase(t *testing.T) {
	t.Parallel()
	base, err := manifests.Role()
	if err != nil {
		t.Fatal(err)
	}
	chart := one[*rbacv1.Role](t, mustTemplate(t, ""))
	if diff := cmp.Diff(base.Rules, chart.Rules); diff != "" {
		t.Errorf("Role rules of the chart against manifests/base/role.yaml (-base +chart):\n%s", diff)
	}
}

// hardening is what the chart's Deployment must share with the base's. Left out: names,
// labels, the image, values the chart makes settable (replicas, resources, scheduling,
// terminationGracePeriodSeconds with its shutdownTimeout), and the volumes, which
// TestDefaultsRenderARunner checks.
type hardening struct {
	Strategy             appsv1.DeploymentStrategy
	RevisionHistoryLimit *int32
	PodSecurity          *corev1.PodSecurityContext
	AutomountToken       *bool
	EnableServiceLinks   *bool
	GracePeriod          *int64
	// The ServiceAccount's own setting: it mounts no token into other pods.
	AccountAutomount   *bool
	Container          container
	MetricsAnnotations map[string]string
}

type container struct {
	Name      string
	Args      []string
	Env       []corev1.EnvVar
	Ports     []corev1.ContainerPort
	Liveness  *corev1.Probe
	Readiness *corev1.Probe
	Security  *corev1.SecurityContext
	Requests  corev1.ResourceList
	Limits    corev1.ResourceList
}

func hardeningOf(t *testing.T, objs []runtime.Object) hardening {
	t.Helper()
	d := one[*appsv1.Deployment](t, objs)
	spec := d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	ann := map[string]string{}
	for _, k := range []string{"prometheus.io/scrape", "prometheus.io/port", "prometheus.io/path"} {
		ann[k] = d.Spec.Template.Annotations[k]
	}
	return hardening{
		Strategy:             d.Spec.Strategy,
		RevisionHistoryLimit: d.Spec.RevisionHistoryLimit,
		PodSecurity:          spec.SecurityContext,
		AutomountToken:       spec.AutomountServiceAccountToken,
		EnableServiceLinks:   spec.EnableServiceLinks,
		GracePeriod:          spec.TerminationGracePeriodSeconds,
		AccountAutomount:     one[*corev1.ServiceAccount](t, objs).AutomountServiceAccountToken,
		MetricsAnnotations:   ann,
		Container: container{
			Name: c.Name, Args: c.Args, Env: c.Env, Ports: c.Ports,
			Liveness: c.LivenessProbe, Readiness: c.ReadinessProbe, Security: c.SecurityContext,
			Requests: c.Resources.Requests, Limits: c.Resources.Limits,
		},
	}
}

// TestDeploymentMatchesBase compares the chart's defaults with the base's Deployment.
func TestDeploymentMatchesBase(t *testing.T) {
	t.Parallel()
	base, err := manifests.Base()
	if err != nil {
		t.Fatal(err)
	}
	want := hardeningOf(t, base)
	got := hardeningOf(t, mustTemplate(t, ""))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the chart's Deployment against manifests/base/deployment.yaml (-base +chart):\n%s", diff)
	}
}

func TestServiceMatchesBase(t *testing.T) {
	t.Parallel()
	base, err := manifests.Base()
	if err != nil {
		t.Fatal(err)
	}
	want := one[*corev1.Service](t, base).Spec.Ports
	got := one[*corev1.Service](t, mustTemplate(t, "")).Spec.Ports
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Service ports against manifests/base/service.yaml (-base +chart):\n%s", diff)
	}
}

// policies are the spec of the jobs' NetworkPolicy (the one beside the Role) and of the
// runner's (beside the Deployment), the runner's selector checked against its Deployment
// and then cleared: the chart's carries the release's instance label, the base's cannot.
func policies(t *testing.T, objs []runtime.Object) (jobs, runner networkingv1.NetworkPolicySpec) {
	t.Helper()
	d := one[*appsv1.Deployment](t, objs)
	jobsNS := one[*rbacv1.Role](t, objs).Namespace
	ps := all[*networkingv1.NetworkPolicy](objs)
	if len(ps) != 2 || jobsNS == d.Namespace {
		t.Fatalf("%d NetworkPolicies, jobs in namespace %s, runner in %s: want two policies in two namespaces", len(ps), jobsNS, d.Namespace)
	}
	for _, p := range ps {
		switch p.Namespace {
		case jobsNS:
			jobs = p.Spec
		case d.Namespace:
			runner = p.Spec
			if diff := cmp.Diff(d.Spec.Selector.MatchLabels, p.Spec.PodSelector.MatchLabels); diff != "" {
				t.Errorf("NetworkPolicy %s selects other pods than its Deployment (-deployment +policy):\n%s", p.Name, diff)
			}
			runner.PodSelector = metav1.LabelSelector{}
		}
	}
	return jobs, runner
}

// TestNetworkPoliciesMatchBase: the chart's two policies, rendered with the jobs in a
// namespace of their own as in the base, are the base's.
func TestNetworkPoliciesMatchBase(t *testing.T) {
	t.Parallel()
	base, err := manifests.Base()
	if err != nil {
		t.Fatal(err)
	}
	baseJobs, baseRunner := policies(t, base)
	chartJobs, chartRunner := policies(t, mustTemplate(t, "jobNamespace: ci-jobs\n"))
	if diff := cmp.Diff(baseJobs, chartJobs); diff != "" {
		t.Errorf("the jobs' NetworkPolicy against manifests/base/networkpolicy.yaml (-base +chart):\n%s", diff)
	}
	if diff := cmp.Diff(baseRunner, chartRunner); diff != "" {
		t.Errorf("the runner's NetworkPolicy against manifests/base/networkpolicy.yaml (-base +chart):\n%s", diff)
	}
}
