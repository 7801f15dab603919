package kubectlplugin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/kuberunner/kuberunner/executor/jobpod"
)

// Describe prints a job's pod, its containers, what the pod says of the job's outcome and
// the pod's events.
func (p *Plugin) Describe(ctx context.Context, jobID int64) error {
	pod, err := p.jobPod(ctx, jobID)
	if err != nil {
		return err
	}
	sel := fields.Set{"involvedObject.kind": "Pod", "involvedObject.name": pod.Name}.String()
	events, err := p.Client.CoreV1().Events(pod.Namespace).List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return fmt.Errorf("list the events of %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	tw := tabwriter.NewWriter(p.Out, 0, 8, 2, ' ', 0)
	p.describePod(tw, pod)
	describeContainers(tw, pod)
	describeOutcome(tw, pod)
	p.describeEvents(tw, events.Items)
	return tw.Flush()
}

func (p *Plugin) describePod(w io.Writer, pod *corev1.Pod) {
	r := jobRow(pod)
	fmt.Fprintf(w, "Job:\t%d\n", r.JobID)
	field := func(name, v string) {
		if v != "" {
			fmt.Fprintf(w, "%s:\t%s\n", name, v)
		}
	}
	field("Name", r.Name)
	field("Project", r.Project)
	if r.Pipeline != 0 {
		field("Pipeline", fmt.Sprint(r.Pipeline))
	}
	field("Stage", r.Stage)
	field("Ref", pod.Annotations[jobpod.AnnotationRef])
	field("URL", r.URL)
	fmt.Fprintf(w, "Pod:\t%s/%s\n", pod.Namespace, pod.Name)
	field("Node", pod.Spec.NodeName)
	fmt.Fprintf(w, "Phase:\t%s\n", r.Phase)
	field("Runner", r.Runner)
	field("Manager", r.Manager)
	if !pod.CreationTimestamp.IsZero() {
		fmt.Fprintf(w, "Created:\t%s (%s ago)\n", pod.CreationTimestamp.UTC().Format(time.RFC3339), age(p.now(), pod.CreationTimestamp.Time))
	}
}

// describeContainers lists the containers as they run: the shipper and prepare (init),
// services and BuildKit (sidecars), then build.
func describeContainers(w io.Writer, pod *corev1.Pod) {
	fmt.Fprintf(w, "Containers:\n")
	for _, c := range append(slices.Clone(pod.Spec.InitContainers), pod.Spec.Containers...) {
		kind := ""
		switch {
		case c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways:
			kind = " (sidecar)"
		case slices.ContainsFunc(pod.Spec.InitContainers, func(i corev1.Container) bool { return i.Name == c.Name }):
			kind = " (init)"
		}
		fmt.Fprintf(w, "  %s%s:\t%s\t%s\n", c.Name, kind, containerState(containerStatus(pod, c.Name)), c.Image)
	}
}

func containerState(cs *corev1.ContainerStatus) string {
	if cs == nil {
		return "Waiting"
	}
	var s string
	switch st := cs.State; {
	case st.Running != nil:
		s = "Running"
	case st.Terminated != nil:
		s = fmt.Sprintf("Terminated (exit %d", st.Terminated.ExitCode)
		if st.Terminated.Reason != "" {
			s += ", " + st.Terminated.Reason
		}
		s += ")"
	case st.Waiting != nil && st.Waiting.Reason != "":
		s = "Waiting (" + st.Waiting.Reason + ")"
		if m := st.Waiting.Message; m != "" {
			s += ": " + oneLine(m)
		}
	default:
		s = "Waiting"
	}
	if cs.RestartCount > 0 {
		s += fmt.Sprintf(", %d restarts", cs.RestartCount)
	}
	return s
}

// describeOutcome shows what the pod left about the job's end: the shipper's last state
// (whether the final state reached GitLab), the agent's failure record, and any other
// container's termination message.
func describeOutcome(w io.Writer, pod *corev1.Pod) {
	var lines []string
	for _, cs := range containerStatuses(pod) {
		t := cs.State.Terminated
		if t == nil && cs.Name == jobpod.ShipperContainer {
			t = cs.LastTerminationState.Terminated // a restarted shipper's last word
		}
		if t == nil || t.Message == "" {
			continue
		}
		lines = append(lines, fmt.Sprintf("  %s:\t%s", cs.Name, terminationMessage(cs.Name, t.Message)))
	}
	if t := terminatedState(pod, jobpod.BuildContainer); t != nil {
		lines = append(lines, fmt.Sprintf("  script:\texit code %d", t.ExitCode))
	}
	fmt.Fprintf(w, "Outcome:\n")
	if len(lines) == 0 {
		fmt.Fprintf(w, "  not known yet\n")
	}
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}

func terminationMessage(container, msg string) string {
	switch container {
	case jobpod.ShipperContainer:
		var st jobpod.ShipperState
		if json.Unmarshal([]byte(msg), &st) == nil {
			return shipperSummary(st)
		}
	case jobpod.BuildContainer, jobpod.PrepareContainer:
		if f, ok := jobpod.ParseFailure([]byte(msg)); ok {
			return f.Reason + ": " + oneLine(f.Message)
		}
	}
	return oneLine(msg)
}

func shipperSummary(st jobpod.ShipperState) string {
	var s string
	switch {
	case st.Gone:
		s = "GitLab dropped the job (cancelled or deleted)"
	case st.Reported:
		s = "reported " + st.State
		if st.Reason != "" {
			s += " (" + st.Reason + ")"
		}
		s += fmt.Sprintf(", exit code %d", st.ExitCode)
	default:
		s = "final state not reported by the pod; the runner reports it"
	}
	return s + fmt.Sprintf("; %d bytes of trace acknowledged", st.Offset)
}

func (p *Plugin) describeEvents(w io.Writer, events []corev1.Event) {
	if len(events) == 0 {
		fmt.Fprintf(w, "Events:\t<none>\n")
		return
	}
	slices.SortStableFunc(events, func(a, b corev1.Event) int { return eventTime(a).Compare(eventTime(b)) })
	fmt.Fprintf(w, "Events:\n  AGE\tTYPE\tREASON\tFROM\tMESSAGE\n")
	now := p.now()
	for _, e := range events {
		from := e.Source.Component
		if from == "" {
			from = e.ReportingController
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\n", age(now, eventTime(e)), e.Type, e.Reason, from, oneLine(e.Message))
	}
}

// eventTime is when the event last happened, whichever API version recorded it.
func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.FirstTimestamp.Time
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
