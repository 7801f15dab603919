// Package executor owns running a job as one Kubernetes pod: the pure pod builder
// (BuildPod: job + PodConfig in, Pod and per-job Secret out, golden-tested) and, on top of it,
// the client-go side that creates, follows and cleans up the pod. The program that runs
// inside the pod is the agent in executor/agent.
package executor
