package kubectlplugin

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// health asks a running replica's /health/ready through the API server's pod proxy:
// "ready", "not ready: <why>", or why it is unknown. Many users may list pods but not
// use pods/proxy; that is no error of the command.
func (p *Plugin) health(ctx context.Context, pod *corev1.Pod) string {
	if pod.Status.Phase != corev1.PodRunning || pod.DeletionTimestamp != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	body, err := p.Client.CoreV1().Pods(pod.Namespace).ProxyGet("http", pod.Name, healthPort, healthPath, nil).DoRaw(ctx)
	switch {
	case err == nil:
		return "ready"
	case apierrors.IsForbidden(err):
		return "unknown (pods/proxy forbidden)"
	case apierrors.IsServiceUnavailable(err):
		if msg := oneLine(string(body)); msg != "" {
			return "not ready: " + msg
		}
		return "not ready"
	}
	return "unknown (" + oneLine(err.Error()) + ")"
}
