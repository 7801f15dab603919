package jobpod

import "time"

// Labels and annotations on a job's objects (pod, Secret, deploy ServiceAccount) and on a
// replica's Lease: what the runner selects on, and what people and tools outside the
// runner read (`kubectl get pods -l kuberunner.io/job-id=42`, `kubectl kuberunner`).
// They live here, in a leaf package, so a reader needs neither client code nor BuildKit.
const (
	LabelManagedBy  = "app.kubernetes.io/managed-by"
	LabelJobID      = "kuberunner.io/job-id"
	LabelRunner     = "kuberunner.io/runner"
	LabelRunnerID   = "kuberunner.io/runner-id"
	LabelProjectID  = "kuberunner.io/project-id"
	LabelPipelineID = "kuberunner.io/pipeline-id"
	// LabelManager names the replica that created a pod (its Identity, label-safe), so that
	// the other replicas of the runner leave it alone while that replica's Lease is fresh.
	LabelManager = "kuberunner.io/manager"
	ManagedBy    = "kuberunner"

	AnnotationJobName = "kuberunner.io/job-name"
	AnnotationProject = "kuberunner.io/project"
	AnnotationJobURL  = "kuberunner.io/job-url"
	AnnotationRef     = "kuberunner.io/ref"
	// AnnotationStage lets `kubectl kuberunner jobs` show where in its pipeline a job is.
	AnnotationStage = "kuberunner.io/stage"
)

// Container names of a job pod besides ShipperContainer and the services'. Both carry the
// job's output, masked at the source, in their container log as well as in TraceLog:
// prepare's (clone, artifacts, cache) first, then build's (the script). Prepare now runs in
// the shipper's postStart hook and writes to the shipper's container log; pods made by
// earlier versions have an init container named PrepareContainer instead.
const (
	PrepareContainer = "prepare"
	BuildContainer   = "build"
)

// LeaseExpired: a replica's Lease last renewed at renewed, for seconds, has expired at now,
// so the replica died and its pods are adoptable. Renewal times are the holder's clock:
// replicas' clocks must agree to well within the duration, as they do on nodes kept in time.
func LeaseExpired(renewed time.Time, seconds int32, now time.Time) bool {
	return renewed.Add(time.Duration(seconds) * time.Second).Before(now)
}
