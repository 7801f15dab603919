// Package agent is the program that runs inside a job pod as `kuberunner-agent step
// prepare|run` (the subcommand keeps its name: pods of running jobs call it; "step" in the
// code means jobspec.Step).
// prepare (the trace shipper's postStart hook, in kuberunner's own image) copies the binary
// into the shared volume, gets the sources, the dependencies' artifacts and the cache; run
// (in the build container, the job's image) runs the script and after_script, then archives
// and uploads artifacts and saves the cache. Everything it prints is the job log, masked with
// the job's secrets before it leaves the process, and appended to the trace file the
// shipper sends to GitLab; the runner needs nothing else from the pod but the containers'
// exit states and the shipper's termination message.
package agent
