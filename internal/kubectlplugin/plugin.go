// Package kubectlplugin is `kubectl kuberunner`: it shows kuberunner's job pods, their logs
// and outcome, and the runner's replicas, reading only through the API server with the
// user's kubeconfig. It never execs into a pod and needs no permission the user lacks:
// what it may not read (a replica's health behind pods/proxy) it reports as unknown.
package kubectlplugin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/kuberunner/kuberunner/executor/jobpod"
)

// Plugin runs the subcommands against one cluster.
type Plugin struct {
	Client kubernetes.Interface
	// Namespace is where to look; "" means all namespaces.
	Namespace string
	Out       io.Writer
	// ErrOut gets notes that are not the command's output (a container not started yet).
	ErrOut io.Writer
	// Now is the clock ages and Lease freshness are measured against; nil: time.Now.
	Now func() time.Time
}

func (p *Plugin) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// where names the namespaces looked in, for messages.
func (p *Plugin) where() string {
	if p.Namespace == "" {
		return "in any namespace"
	}
	return fmt.Sprintf("in namespace %q", p.Namespace)
}

// jobPodSelector selects every job pod kuberunner made, of any runner.
func jobPodSelector() string {
	return jobpod.LabelManagedBy + "=" + jobpod.ManagedBy + "," + jobpod.LabelJobID
}

// jobPod finds the pod of one job. The runner deletes a job's pod once the job ended, so
// "not found" usually means the job is over and its log is in GitLab.
func (p *Plugin) jobPod(ctx context.Context, jobID int64) (*corev1.Pod, error) {
	sel := labels.Set{jobpod.LabelManagedBy: jobpod.ManagedBy, jobpod.LabelJobID: strconv.FormatInt(jobID, 10)}
	list, err := p.Client.CoreV1().Pods(p.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("list the pods of job %d %s: %w", jobID, p.where(), err)
	}
	switch len(list.Items) {
	case 0:
		return nil, fmt.Errorf("no pod of job %d %s: the job has not started or has ended "+
			"(its pod is deleted then; the log is in GitLab), or it runs in another namespace (-n, -A)", jobID, p.where())
	case 1:
		return &list.Items[0], nil
	}
	var names []string
	for _, pod := range list.Items {
		names = append(names, pod.Namespace+"/"+pod.Name)
	}
	sort.Strings(names)
	return nil, fmt.Errorf("job %d has %d pods (%s), from runners of different GitLab instances: choose one with -n",
		jobID, len(names), strings.Join(names, ", "))
}

// ParseJobID reads a job id argument.
func ParseJobID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("job id %q: want a positive number, as in GitLab's job URL", s)
	}
	return id, nil
}

// Output formats of the listing commands.
const (
	OutputTable = ""
	OutputWide  = "wide"
	OutputJSON  = "json"
)

// CheckOutput refuses an output format the listing commands do not print.
func CheckOutput(format string) error {
	switch format {
	case OutputTable, OutputWide, OutputJSON:
		return nil
	}
	return fmt.Errorf("output format %q: want wide or json", format)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
