package kubectlplugin

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kuberunner/kuberunner/executor/jobpod"
)

// JobRow is one job pod as `jobs` shows it. The JSON names are a stable interface for
// scripts: add fields, never rename one.
type JobRow struct {
	Namespace string    `json:"namespace"`
	JobID     int64     `json:"job_id"`
	Project   string    `json:"project"`
	Pipeline  int64     `json:"pipeline_id"`
	Stage     string    `json:"stage"`
	Name      string    `json:"name"`
	Created   time.Time `json:"created_at"`
	Phase     string    `json:"phase"`
	Node      string    `json:"node"`
	Pod       string    `json:"pod"`
	Runner    string    `json:"runner"`
	Manager   string    `json:"manager"`
	URL       string    `json:"url,omitempty"`
}

func jobRow(pod *corev1.Pod) JobRow {
	l, a := pod.Labels, pod.Annotations
	id, _ := strconv.ParseInt(l[jobpod.LabelJobID], 10, 64)
	pipeline, _ := strconv.ParseInt(l[jobpod.LabelPipelineID], 10, 64)
	project := a[jobpod.AnnotationProject]
	if project == "" && l[jobpod.LabelProjectID] != "" {
		project = "#" + l[jobpod.LabelProjectID] // a pod from before the annotation
	}
	return JobRow{
		Namespace: pod.Namespace,
		JobID:     id,
		Project:   project,
		Pipeline:  pipeline,
		Stage:     a[jobpod.AnnotationStage],
		Name:      a[jobpod.AnnotationJobName],
		Created:   pod.CreationTimestamp.UTC(),
		Phase:     jobPhase(pod),
		Node:      pod.Spec.NodeName,
		Pod:       pod.Name,
		Runner:    l[jobpod.LabelRunner],
		Manager:   l[jobpod.LabelManager],
		URL:       a[jobpod.AnnotationJobURL],
	}
}

// Jobs lists the job pods of every kuberunner runner, oldest job first.
func (p *Plugin) Jobs(ctx context.Context, output string) error {
	if err := CheckOutput(output); err != nil {
		return err
	}
	list, err := p.Client.CoreV1().Pods(p.Namespace).List(ctx, metav1.ListOptions{LabelSelector: jobPodSelector()})
	if err != nil {
		return fmt.Errorf("list job pods %s: %w", p.where(), err)
	}
	rows := make([]JobRow, 0, len(list.Items))
	for i := range list.Items {
		rows = append(rows, jobRow(&list.Items[i]))
	}
	slices.SortFunc(rows, func(a, b JobRow) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.JobID, b.JobID))
	})
	return printRows(p, rows, output, "kuberunner job pods", p.jobColumns(), func(r *JobRow) string { return r.Namespace })
}

func (p *Plugin) jobColumns() []column[JobRow] {
	now := p.now()
	num := func(n int64) string {
		if n == 0 {
			return ""
		}
		return strconv.FormatInt(n, 10)
	}
	return []column[JobRow]{
		{header: "JOB", value: func(r *JobRow) string { return num(r.JobID) }},
		{header: "PROJECT", value: func(r *JobRow) string { return r.Project }},
		{header: "PIPELINE", value: func(r *JobRow) string { return num(r.Pipeline) }},
		{header: "STAGE", value: func(r *JobRow) string { return r.Stage }},
		{header: "NAME", value: func(r *JobRow) string { return r.Name }},
		{header: "AGE", value: func(r *JobRow) string { return age(now, r.Created) }},
		{header: "PHASE", value: func(r *JobRow) string { return r.Phase }},
		{header: "NODE", value: func(r *JobRow) string { return r.Node }},
		{header: "POD", wide: true, value: func(r *JobRow) string { return r.Pod }},
		{header: "RUNNER", wide: true, value: func(r *JobRow) string { return r.Runner }},
		{header: "MANAGER", wide: true, value: func(r *JobRow) string { return r.Manager }},
	}
}
