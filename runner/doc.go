// Package runner is the job loop: for each configured runner it long-polls the coordinator,
// holds the concurrency slots, accepts jobs (two-phase commit), ships each job's trace,
// hands the job to the executor and reports the final state until the coordinator takes it.
//
// Goroutines: each runner entry has RequestConcurrency pollers; a poller takes a slot (the
// runner's limit, then the global concurrent) before it asks for a job, and a job it gets
// runs in its own goroutine that keeps the slot until the job is reported. Each job has one
// shipper goroutine, the only one that talks to the coordinator about that job while it
// runs; it is also how a cancel in GitLab reaches the executor, since GitLab never pushes.
//
// The Kubernetes executor hands the trace to the job pod, which ships it and reports the
// final state itself; the runner writes the lines before the pod, and after it only when
// the pod could not report (handoff.go). Shutdown stops polling at once; with
// shutdown_jobs: leave, running jobs are left to their pods and the next process adopts them
// (adopt.go); with wait, as gitlab-runner, they get ShutdownTimeout, then their executors'
// contexts are cancelled and they are reported as runner_system_failure. Reporting uses its
// own context so that an aborted job still reaches GitLab; it is bounded by
// Timing.ReportTries and the job's own timeout instead.
package runner
