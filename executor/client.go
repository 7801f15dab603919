package executor

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	rbacv1client "k8s.io/client-go/kubernetes/typed/rbac/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/flowcontrol"
)

// Client is the part of the Kubernetes API the executor calls: pods, their logs and
// Secrets (core), the replicas' Leases (coordination) and deploy jobs' access (core and
// RBAC). A kubernetes.Interface is one (tests pass the fake clientset). The runner builds
// only these groups' clients (newClient), not client-go's whole clientset and informer
// factory: those link every API group's client, which cost the runner process about
// 10 MiB of resident memory for code it never runs (make rss-report).
type Client interface {
	CoreV1() corev1client.CoreV1Interface
	CoordinationV1() coordinationv1client.CoordinationV1Interface
	RbacV1() rbacv1client.RbacV1Interface
}

// groupClients is the Client the runner uses: the three groups' clients on one transport
// and one rate limiter, as kubernetes.NewForConfig shares them among all groups.
type groupClients struct {
	core         *corev1client.CoreV1Client
	coordination *coordinationv1client.CoordinationV1Client
	rbac         *rbacv1client.RbacV1Client
}

func (c *groupClients) CoreV1() corev1client.CoreV1Interface { return c.core }
func (c *groupClients) CoordinationV1() coordinationv1client.CoordinationV1Interface {
	return c.coordination
}
func (c *groupClients) RbacV1() rbacv1client.RbacV1Interface { return c.rbac }

func newClient(cfg *rest.Config) (Client, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.UserAgent == "" {
		cfg.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	// Many jobs each follow two logs and make a handful of calls; client-go's default of
	// 5 requests per second would queue them.
	cfg.QPS, cfg.Burst = 50, 100
	cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(cfg.QPS, cfg.Burst)
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client for %s: %w", cfg.Host, err)
	}
	var c groupClients
	if c.core, err = corev1client.NewForConfigAndClient(cfg, hc); err != nil {
		return nil, fmt.Errorf("kubernetes client for %s: %w", cfg.Host, err)
	}
	if c.coordination, err = coordinationv1client.NewForConfigAndClient(cfg, hc); err != nil {
		return nil, fmt.Errorf("kubernetes client for %s: %w", cfg.Host, err)
	}
	if c.rbac, err = rbacv1client.NewForConfigAndClient(cfg, hc); err != nil {
		return nil, fmt.Errorf("kubernetes client for %s: %w", cfg.Host, err)
	}
	return &c, nil
}

// podInformer watches the pods in namespace that match selector, as client-go's informer
// factory would, without the factory (it links every group's informers).
func podInformer(c Client, namespace, selector string) cache.SharedIndexInformer {
	pods := c.CoreV1().Pods(namespace)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = selector
			return pods.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = selector
			return pods.Watch(ctx, o)
		},
	}
	// The client says whether it can serve watch lists (the fake clientset cannot).
	inf := cache.NewSharedIndexInformer(cache.ToListWatcherWithWatchListSemantics(lw, c), &corev1.Pod{}, 0,
		cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	// The only error is an informer already started; this one is not.
	_ = inf.SetTransform(withoutManagedFields)
	return inf
}

// withoutManagedFields drops what the runner never reads and every status update of a pod
// grows: server-side apply's field ownership, a large part of a cached job pod.
func withoutManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}
