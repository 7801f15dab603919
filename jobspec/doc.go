// Package jobspec owns the job as data: the wire types of the job payload that the
// coordinator hands out on POST /jobs/request, variables (expansion, masking, file
// variables) and failure reasons. It is pure: no client-go, no HTTP.
package jobspec
