package executor

import (
	"maps"
	"regexp"
	"strconv"
	"strings"

	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/jobspec"
)

// podLabels are the configured labels, expanded with the job's public variables and made
// valid, then kuberunner's own, which a configured label cannot override.
func (pc *PodConfig) podLabels(job *jobspec.Job, public jobspec.Variables) map[string]string {
	labels := map[string]string{}
	for k, v := range pc.Labels {
		labels[k] = labelValue(public.Expand(v))
	}
	maps.Copy(labels, RunnerSelector(pc.Runner.Name))
	labels[jobpod.LabelJobID] = strconv.FormatInt(job.ID, 10)
	labels[jobpod.LabelProjectID] = strconv.FormatInt(job.JobInfo.ProjectID, 10)
	labels[jobpod.LabelPipelineID] = strconv.FormatInt(job.JobInfo.PipelineID, 10)
	if pc.Runner.ID != 0 {
		labels[jobpod.LabelRunnerID] = strconv.FormatInt(pc.Runner.ID, 10)
	}
	if pc.Manager != "" {
		labels[jobpod.LabelManager] = pc.Manager
	}
	return labels
}

// RunnerSelector are the labels every object of this runner carries; the orphan sweep
// selects on them.
func RunnerSelector(runnerName string) map[string]string {
	return map[string]string{jobpod.LabelManagedBy: jobpod.ManagedBy, jobpod.LabelRunner: labelValue(runnerName)}
}

func (pc *PodConfig) podAnnotations(job *jobspec.Job, public jobspec.Variables) map[string]string {
	ann := map[string]string{}
	for k, v := range pc.Annotations {
		ann[k] = public.Expand(v)
	}
	ann[jobpod.AnnotationJobName] = job.JobInfo.Name
	ann[jobpod.AnnotationProject] = job.JobInfo.ProjectFullPath
	if u := public.Get("CI_JOB_URL"); u != "" {
		ann[jobpod.AnnotationJobURL] = u
	}
	if job.JobInfo.Stage != "" {
		ann[jobpod.AnnotationStage] = job.JobInfo.Stage
	}
	if job.GitInfo.Ref != "" {
		ann[jobpod.AnnotationRef] = job.GitInfo.Ref
	}
	return ann
}

var labelInvalid = regexp.MustCompile(`[^-A-Za-z0-9_.]+`)

// labelValue makes s a valid label value: at most 63 characters of [-A-Za-z0-9_.],
// starting and ending with an alphanumeric.
func labelValue(s string) string {
	s = labelInvalid.ReplaceAllString(s, "-")
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.TrimFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	})
}
