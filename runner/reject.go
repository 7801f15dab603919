package runner

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"

	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/jobspec"
)

// rejectJob fails at once a job whose payload this runner cannot read but whose id and token
// it could: the job is already assigned here, and otherwise it would sit until its timeout.
// The reason goes into the trace, so the user sees why. It owns s until done.
func (r *Manager) rejectJob(e *entry, jc gitlab.JobCredentials, cause error, s *slot) {
	log := r.log.With("runner", e.name, "job", jc.ID)
	log.Error("failing a job with an unreadable payload", "err", cause)
	r.metrics.Error("error")
	r.jobsWG.Go(func() {
		defer s.release()
		ctx := context.Background()
		if !r.accept(ctx, e, jc, log) {
			return
		}
		var out bytes.Buffer
		writeHeader(&out, r.version, e.name, e.systemID)
		writeFooter(&out, jobspec.Result{Reason: jobspec.RunnerUnsupported, Err: cause})
		// One try: the final state matters, the explanation is a courtesy.
		if _, err := e.coord.PatchTrace(ctx, jc, 0, out.Bytes()); err != nil {
			log.Warn("trace of the rejected job not delivered", "err", err)
		}
		final := gitlab.UpdateJobRequest{
			State:         gitlab.StateFailed,
			FailureReason: jobspec.RunnerUnsupported,
			Checksum:      fmt.Sprintf("crc32:%08x", crc32.ChecksumIEEE(out.Bytes())),
			Bytesize:      int64(out.Len()),
		}
		if err := r.report(ctx, e.coord, jc, final, r.traceInterval(), 0); err != nil {
			log.Error("final job state not delivered", "state", final.State, "err", err)
		}
	})
}
