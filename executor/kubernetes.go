package executor

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/executor/jobpod"
)

// DefaultUnschedulableTimeout is how long a job's pod may wait for a node before the job
// fails, as gitlab-runner's poll_timeout.
const DefaultUnschedulableTimeout = 3 * time.Minute

// LogSource opens a container's log; the API server's pods/log in production, a fake in
// tests (the fake clientset answers every log request with "fake logs").
type LogSource interface {
	Stream(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error)
}

// Options tune NewKubernetes; the zero value is production's.
type Options struct {
	// Runner is the runner as jobs see it; Name and GitLabURL default to the config's.
	Runner RunnerInfo
	// Logger receives the executor's own problems (a failed sweep); default slog.Default().
	Logger *slog.Logger
	// Client replaces the client built from the config (tests pass a fake clientset).
	Client Client
	// Logs replaces the API server's pods/log.
	Logs LogSource
	// UnschedulableTimeout bounds how long a pod may stay unschedulable.
	UnschedulableTimeout time.Duration
	// APIServer is the API address deploy jobs get; default the client's own.
	APIServer APIServer
	// SweepInterval is how often leftovers are swept after the sweep at start;
	// default DefaultSweepInterval.
	SweepInterval time.Duration
	// Identity is this replica's name among the replicas of one runner (its pod's name):
	// its pods carry it (jobpod.LabelManager) and it renews a Lease under it. Empty: the process
	// is the runner's only one (a local pipeline); no Lease, no manager label.
	Identity string
	// LeaseDuration is how long this replica's Lease stays fresh; default DefaultLeaseDuration.
	LeaseDuration time.Duration
	// AdoptInterval is how often Adopt looks for pods to adopt; default DefaultAdoptInterval.
	AdoptInterval time.Duration
}

// Kubernetes is the executor: it runs each job as one pod. One value serves every job of
// a runner entry; its informer watches this runner's pods in its namespace.
type Kubernetes struct {
	// pc is the configuration the executor started with: its namespace, runner and
	// manager hold for its whole life. Jobs are built with jobs' instead (Reconfigure).
	pc      PodConfig
	jobs    atomic.Pointer[PodConfig]
	conn    connection
	client  Client
	api     APIServer
	logs    LogSource
	log     *slog.Logger
	feeds   *podFeeds
	pods    corelisters.PodNamespaceLister
	synced  cache.InformerSynced
	unsched time.Duration
	stop    chan struct{}
	swept   chan struct{} // closed when the sweep at start is over
	adopter adopter

	leaseDuration time.Duration
	adoptEvery    time.Duration
	heartbeat     *heartbeat     // nil without an Identity
	claims        *claims        // other replicas' Leases held to adopt their pods; nil without an Identity
	adopting      sync.WaitGroup // the adoption loop, which Close waits for before giving up claims
	closeOnce     sync.Once
}

// NewKubernetes compiles the runner's Kubernetes configuration, connects to the cluster
// (in-cluster config, or the kubeconfig and context the config names), starts the informer
// on this runner's pods and, in the background once it has synced and then periodically,
// sweeps what earlier runs left behind.
func NewKubernetes(rc config.Runner, opts Options) (*Kubernetes, error) {
	if opts.Runner.Name == "" {
		opts.Runner.Name = rc.Name
	}
	if opts.Runner.GitLabURL == "" {
		opts.Runner.GitLabURL = rc.URL
	}
	if opts.Runner.ID == 0 {
		opts.Runner.ID = rc.ID
	}
	pc, err := NewPodConfig(rc.Kubernetes, opts.Runner)
	if err != nil {
		return nil, fmt.Errorf("runner %s: %w", rc.Name, err)
	}
	client, api := opts.Client, opts.APIServer
	if client == nil {
		cfg, err := RESTConfig(rc.Kubernetes)
		if err != nil {
			return nil, fmt.Errorf("runner %s: %w", rc.Name, err)
		}
		if client, err = newClient(cfg); err != nil {
			return nil, fmt.Errorf("runner %s: %w", rc.Name, err)
		}
		if api.Host == "" {
			if api, err = apiServerOf(cfg); err != nil {
				return nil, fmt.Errorf("runner %s: %w", rc.Name, err)
			}
		}
	}
	k := &Kubernetes{
		pc:      pc,
		conn:    connectionOf(rc.Kubernetes),
		client:  client,
		api:     api,
		logs:    opts.Logs,
		log:     opts.Logger,
		feeds:   newPodFeeds(),
		unsched: opts.UnschedulableTimeout,
		stop:    make(chan struct{}),
		swept:   make(chan struct{}),
	}
	if k.logs == nil {
		k.logs = apiLogs{client}
	}
	if k.log == nil {
		k.log = slog.Default()
	}
	if k.unsched <= 0 {
		k.unsched = DefaultUnschedulableTimeout
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = DefaultSweepInterval
	}
	if k.leaseDuration = opts.LeaseDuration; k.leaseDuration <= 0 {
		k.leaseDuration = DefaultLeaseDuration
	}
	if k.adoptEvery = opts.AdoptInterval; k.adoptEvery <= 0 {
		k.adoptEvery = DefaultAdoptInterval
	}
	if opts.Identity != "" {
		// The Lease is named for the label value, the only name of a replica its pods carry,
		// so that another replica finds the Lease from a pod to claim it.
		k.pc.Manager = labelValue(opts.Identity)
		lbls := RunnerSelector(rc.Name)
		lbls[jobpod.LabelManager] = k.pc.Manager
		leases := client.CoordinationV1().Leases(pc.Namespace)
		k.claims = &claims{leases: leases, runner: rc.Name, identity: k.pc.Manager,
			duration: k.leaseDuration, log: k.log, held: map[string]*coordinationv1.Lease{}}
		k.heartbeat = &heartbeat{
			leases:   leases,
			name:     LeaseName(rc.Name, k.pc.Manager),
			identity: k.pc.Manager,
			labels:   lbls,
			duration: k.leaseDuration,
			log:      k.log,
			claims:   k.claims,
			done:     make(chan struct{}),
		}
		go k.heartbeat.run(k.stop)
	}
	jobs := k.pc
	k.jobs.Store(&jobs)
	k.startInformer()
	go k.sweepPeriodically(opts.SweepInterval)
	return k, nil
}

// Close stops the informer, the sweep, adoption and the heartbeat, and deletes this
// replica's Lease and gives up its claims on others', so that the other replicas adopt at
// once what it leaves to its pods.
// Jobs still running lose their pod events: call it only after the last Run returned.
// Calls after the first do nothing.
func (k *Kubernetes) Close() {
	k.closeOnce.Do(func() {
		close(k.stop)
		k.adopting.Wait() // no pass adopts under a claim given up below
		if k.heartbeat != nil {
			pods, _ := k.pods.List(labels.Everything()) // the cache: it cannot fail
			k.heartbeat.release(pods)
		}
	})
}

func (k *Kubernetes) startInformer() {
	selector := labels.SelectorFromSet(RunnerSelector(k.pc.Runner.Name)).String()
	inf := podInformer(k.client, k.pc.Namespace, selector)
	// The only error is a handler added to a stopped informer; this one has not started.
	_, _ = inf.AddEventHandler(k.feeds.handler())
	k.pods = corelisters.NewPodLister(inf.GetIndexer()).Pods(k.pc.Namespace)
	k.synced = inf.HasSynced
	go inf.Run(k.stop)
}

// RESTConfig is the connection the config names: its kubeconfig and context; with neither,
// the in-cluster config inside a pod and kubectl's ($KUBECONFIG, ~/.kube/config) outside.
func RESTConfig(kc config.Kubernetes) (*rest.Config, error) {
	if kc.Kubeconfig == "" && kc.Context == "" && os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster config (set kubernetes.kubeconfig to use another cluster): %w", err)
		}
		return cfg, nil
	}
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: kc.Kubeconfig}
	if kc.Kubeconfig == "" {
		rules = clientcmd.NewDefaultClientConfigLoadingRules()
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: kc.Context}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %q context %q: %w", kc.Kubeconfig, kc.Context, err)
	}
	return cfg, nil
}

// apiServerOf is the address and CA deploy jobs use: the runner's own. In a cluster that is
// the kubernetes Service, which pods reach; a runner outside the cluster must use an address
// pods can reach too (the local cluster's is the node's).
func apiServerOf(cfg *rest.Config) (APIServer, error) {
	api := APIServer{Host: cfg.Host, CAData: cfg.CAData}
	if len(api.CAData) == 0 && cfg.CAFile != "" {
		ca, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return APIServer{}, fmt.Errorf("read the API server's CA: %w", err)
		}
		api.CAData = ca
	}
	return api, nil
}

// apiLogs reads logs through the API server.
type apiLogs struct{ c Client }

func (a apiLogs) Stream(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	return a.c.CoreV1().Pods(namespace).GetLogs(pod, opts).Stream(ctx)
}
