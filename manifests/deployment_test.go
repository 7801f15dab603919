package manifests_test

import (
	"net"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/manifests"
)

// runnerContainer is the Deployment's only container.
func runnerContainer(t *testing.T) corev1.Container {
	t.Helper()
	cs := baseDeployment(t).Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("%d containers, want 1", len(cs))
	}
	return cs[0]
}

func TestDeploymentIsLockedDown(t *testing.T) {
	d := baseDeployment(t)
	spec := d.Spec.Template.Spec
	c := runnerContainer(t)
	want := &corev1.SecurityContext{
		RunAsNonRoot:             new(true),
		AllowPrivilegeEscalation: new(false),
		ReadOnlyRootFilesystem:   new(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if diff := cmp.Diff(want, c.SecurityContext); diff != "" {
		t.Errorf("container security context (-want +got):\n%s", diff)
	}
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod security context %+v: want runAsNonRoot and a non-zero runAsUser", psc)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context %+v: want seccomp RuntimeDefault", psc)
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		t.Error("the runner pod shares a host namespace")
	}
	if c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
		t.Error("the runner container is privileged")
	}
}

func TestDeploymentRunsTheRunner(t *testing.T) {
	d := baseDeployment(t)
	spec := d.Spec.Template.Spec
	c := runnerContainer(t)
	type shape struct {
		Replicas       int32
		Image          string
		Args           []string
		Ports          []corev1.ContainerPort
		Liveness       *corev1.HTTPGetAction
		Readiness      *corev1.HTTPGetAction
		CPURequest     string
		MemoryRequest  string
		ServiceAccount string
		AutomountToken *bool
	}
	want := shape{
		Replicas:       1,
		Image:          "kuberunner:dev",
		Args:           []string{"run", "--config", config.DefaultPath},
		Ports:          []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9252, Protocol: corev1.ProtocolTCP}},
		Liveness:       &corev1.HTTPGetAction{Path: "/health/live", Port: intstr.FromString("metrics")},
		Readiness:      &corev1.HTTPGetAction{Path: "/health/ready", Port: intstr.FromString("metrics")},
		CPURequest:     "20m",
		MemoryRequest:  "32Mi",
		ServiceAccount: "kuberunner",
		AutomountToken: new(true),
	}
	got := shape{
		Replicas:       *d.Spec.Replicas,
		Image:          c.Image,
		Args:           c.Args,
		Ports:          c.Ports,
		CPURequest:     c.Resources.Requests.Cpu().String(),
		MemoryRequest:  c.Resources.Requests.Memory().String(),
		ServiceAccount: spec.ServiceAccountName,
		AutomountToken: spec.AutomountServiceAccountToken,
	}
	if c.LivenessProbe != nil {
		got.Liveness = c.LivenessProbe.HTTPGet
	}
	if c.ReadinessProbe != nil {
		got.Readiness = c.ReadinessProbe.HTTPGet
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Deployment (-want +got):\n%s", diff)
	}
	if lim, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok || lim.Cmp(resource.MustParse("32Mi")) <= 0 {
		t.Errorf("memory limit %v: want one above the request", c.Resources.Limits)
	}

	ann := d.Spec.Template.Annotations
	wantAnn := map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9252", "prometheus.io/path": "/metrics"}
	if diff := cmp.Diff(wantAnn, ann); diff != "" {
		t.Errorf("pod annotations (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels); diff != "" {
		t.Errorf("selector against pod labels (-selector +labels):\n%s", diff)
	}
}

// TestDeploymentWritablePaths: with a read-only root filesystem, every path the runner
// writes must be a volume: `run` keeps trace buffers in os.TempDir(). The config Secret is
// mounted whole as a read-only directory, so that its updates reach the pod to be reloaded.
func TestDeploymentWritablePaths(t *testing.T) {
	d := baseDeployment(t)
	c := runnerContainer(t)
	volumes := map[string]corev1.VolumeSource{}
	for _, v := range d.Spec.Template.Spec.Volumes {
		volumes[v.Name] = v.VolumeSource
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m
	}
	if m, ok := mounts["/tmp"]; !ok || m.ReadOnly || volumes[m.Name].EmptyDir == nil {
		t.Errorf("/tmp: mount %+v; want a writable emptyDir", m)
	}
	dir := path.Dir(config.DefaultPath)
	m, ok := mounts[dir]
	if !ok || !m.ReadOnly || m.SubPath != "" {
		t.Fatalf("%s: mount %+v; want the config Secret as a read-only directory, without subPath", dir, m)
	}
	for _, other := range c.VolumeMounts {
		if other.SubPath != "" || strings.HasPrefix(other.MountPath, dir+"/") {
			t.Errorf("mount %+v: nothing may be mounted into or through a subPath of %s", other, dir)
		}
	}
	if s := volumes[m.Name].Secret; s == nil || s.SecretName != "kuberunner-config" {
		t.Errorf("config volume %+v: want Secret kuberunner-config, the one README tells operators to create", volumes[m.Name])
	}
}

func TestServiceExposesMetrics(t *testing.T) {
	objs := baseObjects(t)
	svc := only[*corev1.Service](t, objs)
	d := baseDeployment(t)
	if diff := cmp.Diff(d.Spec.Selector.MatchLabels, svc.Spec.Selector); diff != "" {
		t.Errorf("Service selector against the Deployment's (-deployment +service):\n%s", diff)
	}
	want := []corev1.ServicePort{{Name: "metrics", Port: 9252, TargetPort: intstr.FromString("metrics"), Protocol: corev1.ProtocolTCP}}
	if diff := cmp.Diff(want, svc.Spec.Ports); diff != "" {
		t.Errorf("Service ports (-want +got):\n%s", diff)
	}
}

// TestExampleConfigFitsTheDeployment loads config.example.yaml as `kuberunner run` does
// and checks it against the objects it is deployed with.
func TestExampleConfigFitsTheDeployment(t *testing.T) {
	data, err := manifests.FS.ReadFile("config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("config.example.yaml", data)
	if err != nil {
		t.Fatalf("config.example.yaml does not load: %v", err)
	}
	if len(cfg.Runners) != 1 {
		t.Fatalf("%d runners, want 1", len(cfg.Runners))
	}
	d := baseDeployment(t)
	c := runnerContainer(t)
	k := cfg.Runners[0].Kubernetes
	type fit struct {
		JobNamespace string
		HelperImage  string
		ListenPort   string
	}
	_, port, err := net.SplitHostPort(cfg.ListenAddress)
	if err != nil {
		t.Fatalf("listen_address: %v", err)
	}
	got := fit{k.Namespace, k.HelperImage, port}
	want := fit{role(t).Namespace, c.Image, strconv.Itoa(int(c.Ports[0].ContainerPort))}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config.example.yaml against the base (-base +config):\n%s", diff)
	}
	// The runner needs time after shutdown_timeout to cancel jobs and report them.
	grace := time.Duration(*d.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
	if need := cfg.ShutdownTimeout.Std() + time.Minute; grace < need {
		t.Errorf("terminationGracePeriodSeconds %s: want at least shutdown_timeout + 1m = %s", grace, need)
	}
}
