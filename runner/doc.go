// Package runner is the job loop: for each configured runner it long-polls the coordinator,
// holds the concurrency slots, accepts jobs (two-phase commit), ships each job's trace,
// hands the job to the executor and reports the final state until the coordinator takes it.
package runner
