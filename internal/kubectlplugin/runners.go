package kubectlplugin

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kuberunner/kuberunner/executor/jobpod"
)

// Where the runner Deployment's pods are found and asked for their health
// (manifests/base/deployment.yaml).
const (
	runnerPodSelector = "app.kubernetes.io/name=kuberunner"
	healthPort        = "9252"
	healthPath        = "/health/ready"
)

// healthTimeout bounds one replica's health request through the API server.
var healthTimeout = 5 * time.Second

// ReplicaRow is one replica of a runner: its pod, its Lease, or both (a Lease without a
// pod is a replica that died; its pods are adopted once the Lease expired). The pod's
// name is the replica's identity, the Lease's holder.
type ReplicaRow struct {
	Namespace string     `json:"namespace"`
	Replica   string     `json:"replica"`
	Runner    string     `json:"runner"`
	Ready     string     `json:"ready"`
	Status    string     `json:"status"`
	Node      string     `json:"node"`
	Lease     string     `json:"lease"`
	LeaseNS   string     `json:"lease_namespace"`
	Renewed   *time.Time `json:"renewed_at,omitempty"`
	LeaseAge  string     `json:"lease_state"` // fresh, expired, or "" with no Lease
	Health    string     `json:"health"`
}

// Runners lists the runner's replicas: the Deployment's pods with their readiness and
// health, and the replicas' Leases (in the jobs' namespace, which may be another).
func (p *Plugin) Runners(ctx context.Context, output string) error {
	if err := CheckOutput(output); err != nil {
		return err
	}
	pods, err := p.Client.CoreV1().Pods(p.Namespace).List(ctx, metav1.ListOptions{LabelSelector: runnerPodSelector})
	if err != nil {
		return fmt.Errorf("list runner pods %s: %w", p.where(), err)
	}
	leaseSel := jobpod.LabelManagedBy + "=" + jobpod.ManagedBy + "," + jobpod.LabelRunner
	leases, err := p.Client.CoordinationV1().Leases(p.Namespace).List(ctx, metav1.ListOptions{LabelSelector: leaseSel})
	if err != nil {
		return fmt.Errorf("list runner leases %s: %w", p.where(), err)
	}
	rows := p.replicaRows(ctx, pods.Items, leases.Items)
	return printRows(p, rows, output, "kuberunner runner pods or Leases", p.replicaColumns(), func(r *ReplicaRow) string { return r.Namespace })
}

func (p *Plugin) replicaRows(ctx context.Context, pods []corev1.Pod, leases []coordinationv1.Lease) []ReplicaRow {
	now := p.now()
	byHolder := map[string]*coordinationv1.Lease{}
	for i := range leases {
		if h := leases[i].Spec.HolderIdentity; h != nil {
			byHolder[*h] = &leases[i]
		}
	}
	var rows []ReplicaRow
	for i := range pods {
		pod := &pods[i]
		r := ReplicaRow{Namespace: pod.Namespace, Replica: pod.Name, Node: pod.Spec.NodeName,
			Ready: readiness(pod), Status: string(pod.Status.Phase), Health: p.health(ctx, pod)}
		if pod.DeletionTimestamp != nil {
			r.Status = "Terminating"
		}
		if l := byHolder[pod.Name]; l != nil {
			setLease(&r, l, now)
			delete(byHolder, pod.Name)
		}
		rows = append(rows, r)
	}
	for holder, l := range byHolder {
		r := ReplicaRow{Namespace: l.Namespace, Replica: holder, Status: "no pod"}
		setLease(&r, l, now)
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b ReplicaRow) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Replica, b.Replica))
	})
	return rows
}

func setLease(r *ReplicaRow, l *coordinationv1.Lease, now time.Time) {
	r.Lease, r.LeaseNS, r.Runner = l.Name, l.Namespace, l.Labels[jobpod.LabelRunner]
	r.LeaseAge = "fresh"
	if leaseExpired(l, now) {
		r.LeaseAge = "expired"
	}
	if t := l.Spec.RenewTime; t != nil {
		renewed := t.UTC()
		r.Renewed = &renewed
	}
}

// leaseExpired is the executor's rule: a replica's pods are adoptable once it holds.
func leaseExpired(l *coordinationv1.Lease, now time.Time) bool {
	s := l.Spec
	return s.RenewTime == nil || s.LeaseDurationSeconds == nil || jobpod.LeaseExpired(s.RenewTime.Time, *s.LeaseDurationSeconds, now)
}

func readiness(pod *corev1.Pod) string {
	ready := 0
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Ready {
			ready++
		}
	}
	return fmt.Sprintf("%d/%d", ready, len(pod.Spec.Containers))
}

func (p *Plugin) replicaColumns() []column[ReplicaRow] {
	now := p.now()
	return []column[ReplicaRow]{
		{header: "REPLICA", value: func(r *ReplicaRow) string { return r.Replica }},
		{header: "RUNNER", value: func(r *ReplicaRow) string { return r.Runner }},
		{header: "READY", value: func(r *ReplicaRow) string { return r.Ready }},
		{header: "STATUS", value: func(r *ReplicaRow) string { return r.Status }},
		{header: "LEASE", value: func(r *ReplicaRow) string { return r.LeaseAge }},
		{header: "RENEWED", value: func(r *ReplicaRow) string {
			if r.Renewed == nil {
				return ""
			}
			return age(now, *r.Renewed) + " ago"
		}},
		{header: "HEALTH", value: func(r *ReplicaRow) string { return r.Health }},
		{header: "NODE", wide: true, value: func(r *ReplicaRow) string { return r.Node }},
		{header: "LEASE-NAME", wide: true, value: func(r *ReplicaRow) string {
			if r.Lease == "" {
				return ""
			}
			return r.LeaseNS + "/" + r.Lease
		}},
	}
}
