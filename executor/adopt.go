package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/jobspec"
)

// FollowFunc follows an adopted job's pod to its end as Run does once its pod exists: log is
// the job log, a TraceHandover whose trace the pod owns.
type FollowFunc = func(ctx context.Context, log io.Writer, graceful <-chan struct{}) jobspec.Result

// AdoptFunc takes on one job a runner that went away left to its pod: handed is where the
// pod's part of the trace began. It must call follow, which cleans up when the job is over.
type AdoptFunc = func(job *jobspec.Job, handed jobpod.Trace, follow FollowFunc)

// adopter holds the runner's AdoptFunc once it asked for orphans.
type adopter struct {
	mu    sync.Mutex
	adopt AdoptFunc
	// unadoptable holds pods that can never be adopted (their Secret is gone or unreadable),
	// so every pass does not warn about them again until the sweep removes them.
	unadoptable map[types.UID]bool
}

func (a *adopter) skip(uid types.UID) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.unadoptable[uid]
}

func (a *adopter) giveUp(uid types.UID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.unadoptable == nil {
		a.unadoptable = map[types.UID]bool{}
	}
	a.unadoptable[uid] = true
}

func (a *adopter) get() AdoptFunc {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.adopt
}

// Adopt carries on the jobs of this runner whose pods no Run of this process follows: a
// runner process that stopped or died left them to their pods, which ship their traces and
// report on their own. Nothing comes from that process; the pod, its Secret and its
// shipper's termination message say which job it is, where its trace is and how it ended.
// Pods of another replica of the runner are adopted only once its Lease is gone or expired,
// and by one replica only: the one whose claim on that Lease won (claim.go).
// adopt is called in a goroutine of its own for each such pod, once the informer synced,
// then every AdoptInterval (a dead replica's pods are not left waiting for a sweep) and at
// every sweep, before the sweep, so the sweep never deletes a pod that still has a job to
// report.
func (k *Kubernetes) Adopt(adopt AdoptFunc) {
	k.adopter.mu.Lock()
	k.adopter.adopt = adopt
	k.adopter.mu.Unlock()
	k.adopting.Add(1)
	go func() {
		defer k.adopting.Done()
		if !cache.WaitForCacheSync(k.stop, k.synced) {
			return
		}
		tick := time.NewTicker(k.adoptEvery)
		defer tick.Stop()
		for {
			k.adoptOrphans()
			select {
			case <-k.stop:
				return
			case <-tick.C:
			}
		}
	}()
}

// adoptOrphans hands every pod nobody follows and no live replica owns to the adopter.
func (k *Kubernetes) adoptOrphans() {
	adopt := k.adopter.get()
	if adopt == nil {
		return
	}
	pods, err := k.pods.List(labels.Everything())
	if err != nil {
		k.log.Warn("list job pods to adopt", "runner", k.pc.Runner.Name, "err", err)
		return
	}
	others := &replicas{k: k, now: time.Now(), cutoffs: map[string]time.Time{}}
	defer k.releaseAdopted(pods)
	for _, pod := range pods {
		if k.feeds.get(pod.Name) != nil || k.adopter.skip(pod.UID) || !others.adoptable(pod) {
			continue // followed here, or by the live replica that created it
		}
		feed, ok := k.feeds.claim(pod.Name)
		if !ok {
			continue // a Run or an earlier adoption follows it
		}
		// The pod as listed may be older than an event the feed missed before the claim;
		// the cache read after it is not. An event the feed got meanwhile is newer still.
		cur, err := k.pods.Get(pod.Name)
		if err != nil {
			k.feeds.unsubscribe(pod.Name) // gone since the list
			continue
		}
		pod = cur
		feed.first(pod)
		j, handed, err := k.orphan(pod)
		if err != nil {
			k.feeds.unsubscribe(pod.Name)
			if errors.Is(err, errUnadoptable) {
				// The sweep deletes it in time; without its Secret nobody can report it.
				k.adopter.giveUp(pod.UID)
			}
			k.log.Warn("cannot adopt job pod", "pod", pod.Name, "err", err)
			continue
		}
		k.log.Info("adopting job pod", "pod", pod.Name, "job", j.job.ID)
		go adopt(j.job, handed, func(ctx context.Context, log io.Writer, graceful <-chan struct{}) jobspec.Result {
			defer k.feeds.unsubscribe(pod.Name)
			j.log = log
			h, ok := log.(TraceHandover)
			if !ok {
				return jobspec.Result{Reason: jobspec.RunnerSystemFailure, Err: errors.New("the job log cannot be taken back from the pod")}
			}
			j.printf("Job adopted from pod %s/%s by a new runner process\n", pod.Namespace, pod.Name)
			return j.follow(ctx, feed, h, handed, graceful)
		})
	}
}

// releaseAdopted gives up the claims on other replicas' Leases whose pods are all gone.
func (k *Kubernetes) releaseAdopted(pods []*corev1.Pod) {
	if k.claims == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	k.claims.releaseDone(ctx, pods)
}

// errUnadoptable marks a pod no later pass can adopt either.
var errUnadoptable = errors.New("cannot be adopted")

// orphan rebuilds what a Run knew of a pod's job from the pod and its Secret. Deploy access
// is not rebuilt: the sweep removes it once the pod is gone.
func (k *Kubernetes) orphan(pod *corev1.Pod) (*jobRun, jobpod.Trace, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sel := labels.SelectorFromSet(map[string]string{jobpod.LabelJobID: pod.Labels[jobpod.LabelJobID]})
	list, err := k.client.CoreV1().Secrets(pod.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, jobpod.Trace{}, fmt.Errorf("find the job's secret: %w", err)
	}
	var secret *corev1.Secret
	for i := range list.Items {
		if s := &list.Items[i]; s.Name == podSecretName(pod) {
			secret = s
		}
	}
	if secret == nil {
		return nil, jobpod.Trace{}, fmt.Errorf("%w: the job's secret is gone", errUnadoptable)
	}
	var job jobspec.Job
	var cfg jobpod.Config
	if err := json.Unmarshal(secret.Data[jobpod.JobFile], &job); err != nil {
		return nil, jobpod.Trace{}, fmt.Errorf("%w: decode the job: %w", errUnadoptable, err)
	}
	if err := json.Unmarshal(secret.Data[jobpod.ConfigFile], &cfg); err != nil {
		return nil, jobpod.Trace{}, fmt.Errorf("%w: decode the agent config: %w", errUnadoptable, err)
	}
	if cfg.Trace == nil {
		return nil, jobpod.Trace{}, fmt.Errorf("%w: the pod does not ship its trace (an older runner's)", errUnadoptable)
	}
	j := &jobRun{k: k, pc: k.jobs.Load(), job: &job, pod: pod, objs: &JobObjects{Pod: pod, Secret: secret}}
	return j, *cfg.Trace, nil
}

// podSecretName is the job Secret the pod mounts.
func podSecretName(pod *corev1.Pod) string {
	for _, v := range pod.Spec.Volumes {
		if v.Name == jobVolume && v.Secret != nil {
			return v.Secret.SecretName
		}
	}
	return ""
}
