// Package trace owns a job's log on its way from the executor to the coordinator.
//
// A Buffer masks secrets (exact values, their URL-encoded forms and prefixed tokens such
// as glpat-...) even when a secret is split across writes, enforces the log size limit,
// and keeps the masked log in a temporary file so memory stays bounded however much a
// job prints. A shipper reads the ready bytes by offset (re-reading older offsets after a
// 416 is fine) and reports their CRC32 checksum in the final job update.
//
// A Writer applies the same masking to a stream bound elsewhere: the agent in the job pod
// masks its container log with it, so no secret reaches `kubectl logs` or the node's files.
//
// The package also renders GitLab's collapsible section markers.
package trace
