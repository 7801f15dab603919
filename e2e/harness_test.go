//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/kuberunner/kuberunner/buildkit"
	"github.com/kuberunner/kuberunner/e2e/e2eutil"
)

const builtMessage = "hello from an image built by rootless BuildKit in the cluster"

// buildScript runs in the rootless BuildKit image: start buildkitd under rootlesskit, build the
// Dockerfile from the ConfigMap, push the result.
var buildScript = `set -eu
echo "building as uid $(id -u)"
mkdir -p /tmp/ctx "$HOME/.config/buildkit"
cp /config/Dockerfile /tmp/ctx/Dockerfile
cp /config/buildkitd.toml "$HOME/.config/buildkit/buildkitd.toml"
` + strings.Join(buildkit.DaemonArgs(), " ") + ` >/tmp/buildkitd.log 2>&1 &
i=0
until buildctl debug workers >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -gt 300 ]; then echo "buildkitd did not start"; cat /tmp/buildkitd.log; exit 1; fi
  sleep 0.2
done
buildctl build --frontend dockerfile.v0 --local context=/tmp/ctx --local dockerfile=/tmp/ctx \
  --output "type=image,name=$IMAGE,push=true,registry.insecure=true" || { cat /tmp/buildkitd.log; exit 1; }
echo pushed "$IMAGE"
`

// TestBuiltInClusterImageRuns: rootless BuildKit in an unprivileged pod builds an image (with a
// RUN step, so its worker really runs containers), pushes it, and a pod of that image prints
// what the build put in.
func TestBuiltInClusterImageRuns(t *testing.T) {
	images := loadImages(t)
	c := e2eutil.Client(t)
	ns := e2eutil.Namespace(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	built := images.Registry + "/e2e/hello:" + ns
	_, err := c.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "build"},
		Data: map[string]string{
			"Dockerfile": "FROM " + images.Busybox + "\n" +
				"RUN echo '" + builtMessage + "' > /message\n" +
				`CMD ["cat", "/message"]` + "\n",
			"buildkitd.toml": "[registry.\"" + images.Registry + "\"]\n  http = true\n  insecure = true\n",
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create build context: %v", err)
	}

	builder := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "builder"},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name:            "buildkit",
				Image:           images.Buildkit,
				Command:         []string{"sh", "-c", buildScript},
				Env:             []corev1.EnvVar{{Name: "IMAGE", Value: built}},
				SecurityContext: buildkit.SecurityContext(),
				VolumeMounts: []corev1.VolumeMount{
					{Name: "context", MountPath: "/config"},
					{Name: "state", MountPath: buildkit.StateDir},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "context", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "build"},
				}}},
				{Name: "state", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
		},
	}
	buildLog := runToCompletion(ctx, t, c, ns, builder)
	if first, _, _ := strings.Cut(buildLog, "\n"); first != "building as uid 1000" {
		t.Errorf("builder's first log line: want %q, got %q", "building as uid 1000", first)
	}

	hello := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "hello"},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "hello", Image: built}},
		},
	}
	got := runToCompletion(ctx, t, c, ns, hello)
	if diff := cmp.Diff(builtMessage+"\n", got); diff != "" {
		t.Errorf("log of a pod from the built image (-want +got):\n%s", diff)
	}
}

// TestLogsAndExecThroughAPIServer: kubectl logs and exec reach the kubelet through the API server.
func TestLogsAndExecThroughAPIServer(t *testing.T) {
	images := loadImages(t)
	c := e2eutil.Client(t)
	ns := e2eutil.Namespace(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "shell"},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To(int64(1)),
			Containers: []corev1.Container{{
				Name:    "shell",
				Image:   images.Busybox,
				Command: []string{"sh", "-c", "echo started; exec sleep 3600"},
			}},
		},
	}
	if _, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod: %v", err)
	}
	if _, err := e2eutil.WaitPod(ctx, c, ns, pod.Name, e2eutil.Running); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"logs", []string{"-n", ns, "logs", pod.Name}, "started\n"},
		{"exec", []string{"-n", ns, "exec", pod.Name, "--", "sh", "-c", "echo $((6 * 7)) from $(hostname)"}, "42 from shell\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e2eutil.Kubectl(ctx, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("kubectl %s (-want +got):\n%s", strings.Join(tc.args, " "), diff)
			}
		})
	}
}

// TestClusterIPReachesAPIServer: a pod reaches the API server through the kubernetes service's
// ClusterIP (kube-proxy's rules), authenticated with its service account token.
func TestClusterIPReachesAPIServer(t *testing.T) {
	images := loadImages(t)
	c := e2eutil.Client(t)
	ns := e2eutil.Namespace(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	svc, err := c.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get the kubernetes service: %v", err)
	}
	const script = `set -eu
echo "$KUBERNETES_SERVICE_HOST"
wget -q -O- --no-check-certificate \
  --header "Authorization: Bearer $(cat /var/run/secrets/kubernetes.io/serviceaccount/token)" \
  "https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/version"
`
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "api-client"},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name:    "client",
				Image:   images.Busybox,
				Command: []string{"sh", "-c", script},
			}},
		},
	}
	out := runToCompletion(ctx, t, c, ns, pod)
	host, body, _ := strings.Cut(out, "\n")
	if diff := cmp.Diff(svc.Spec.ClusterIP, host); diff != "" {
		t.Errorf("KUBERNETES_SERVICE_HOST in the pod (-want +got):\n%s", diff)
	}
	var version struct {
		GitVersion string `json:"gitVersion"`
	}
	if err := json.Unmarshal([]byte(body), &version); err != nil || version.GitVersion == "" {
		t.Fatalf("GET /version through %s: want a version document, got %q (%v)", host, body, err)
	}
	server, err := c.Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("server version: %v", err)
	}
	if diff := cmp.Diff(server.GitVersion, version.GitVersion); diff != "" {
		t.Errorf("version seen from the pod (-want +got):\n%s", diff)
	}
}

func loadImages(t *testing.T) e2eutil.Images {
	t.Helper()
	images, err := e2eutil.LoadImages()
	if err != nil {
		t.Fatal(err)
	}
	if images.Buildkit == "" {
		t.Fatal("KR_IMAGE_BUILDKIT is not set: the e2e tests need a rootless BuildKit image")
	}
	return images
}

// runToCompletion creates pod, waits for it to succeed and returns its log; on failure the
// log is part of the message.
func runToCompletion(ctx context.Context, t *testing.T, c kubernetes.Interface, ns string, pod *corev1.Pod) string {
	t.Helper()
	if _, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", pod.Name, err)
	}
	container := pod.Spec.Containers[0].Name
	_, waitErr := e2eutil.WaitPod(ctx, c, ns, pod.Name, e2eutil.Succeeded)
	logs, err := e2eutil.Logs(ctx, c, ns, pod.Name, container)
	if waitErr != nil {
		t.Fatalf("%v\nlog of %s:\n%s", waitErr, container, logs)
	}
	if err != nil {
		t.Fatal(err)
	}
	return logs
}
