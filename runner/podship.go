package runner

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kuberunner/kuberunner/executor/jobpod"
	"github.com/kuberunner/kuberunner/gitlab"
	"github.com/kuberunner/kuberunner/jobspec"
)

// verdictPoll is how often the pod's shipper looks for the agent's verdict.
const verdictPoll = 100 * time.Millisecond

// The pod's shipper retries at most 5 s apart, so the end of a job that finished during a
// GitLab outage is delivered soon after GitLab is back, and tries its final flush and its
// final PUT for about two minutes each: within executor.ShipperGrace, the time the pod's
// grace period leaves it after the job's containers ended.
var (
	podBackoff     = gitlab.Backoff{Min: 500 * time.Millisecond, Max: 5 * time.Second, Factor: 2, Jitter: 0.2}
	podReportTries = 28
)

// PodShipOptions are the surroundings of the pod's shipper; zero paths mean the pod's layout.
type PodShipOptions struct {
	JobDir         string // jobpod.JobDir
	TraceDir       string // jobpod.TraceDir
	TerminationLog string // jobpod.TerminationLog
	GitLab         GitLab
	// Log is the shipper's own log (its container log): never job output.
	Log *slog.Logger
}

func (o *PodShipOptions) defaults() {
	o.JobDir = cmp.Or(o.JobDir, jobpod.JobDir)
	o.TraceDir = cmp.Or(o.TraceDir, jobpod.TraceDir)
	o.TerminationLog = cmp.Or(o.TerminationLog, jobpod.TerminationLog)
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// ShipPod is `kuberunner step ship`, the job pod's trace shipper: it sends the output the
// agents write to the trace file to GitLab, passes GitLab's cancel to the agent, and sends
// the job's final state once the agent left its verdict. stop is closed by SIGTERM: the
// job's containers ended (the kubelet stops native sidecars last) or the pod is being
// deleted; the shipper then delivers what is left and exits. Its progress is in
// TraceProgress and its termination message, so the runner can take over where it stopped.
func ShipPod(ctx context.Context, stop <-chan struct{}, o PodShipOptions) error {
	o.defaults()
	p, err := newPodShip(o)
	if err != nil {
		return err
	}
	defer p.src.Close()
	if p.state.Reported || p.state.Gone {
		// A restart after the job was over: nothing left to do but wait for the end.
		<-stop
		return p.record()
	}
	go p.sh.run(ctx)

	v, ok := p.waitVerdict(stop)
	if !ok || v.Stopped {
		// No verdict, or a SIGTERM stopped the job: the runner knows why, and reports.
		p.src.seal(nil)
		p.finish()
		return p.record()
	}
	res := verdictResult(v)
	var footer strings.Builder
	writeFooter(&footer, res)
	p.src.seal([]byte(footer.String()))
	if p.finish() {
		p.report(ctx, res)
	}
	if err := p.record(); err != nil {
		return err
	}
	if p.state.Reported || p.state.Gone {
		// Done: exiting puts the state in the termination message now, so the runner
		// cleans up at once instead of waiting for services that are slow to stop (the
		// kubelet stops this sidecar last). The kubelet restarts it; the restart only
		// waits for the end (above).
		return nil
	}
	// The runner reports; it reads this state once the kubelet stops the shipper.
	<-stop
	return nil
}

// podShip is one shipper's state; the shipper goroutine updates state through onProgress
// until flush returns.
type podShip struct {
	o     PodShipOptions
	job   jobspec.Job
	cfg   jobpod.Config
	src   *podSource
	sh    *shipper
	state jobpod.ShipperState
}

func newPodShip(o PodShipOptions) (*podShip, error) {
	p := &podShip{o: o}
	if err := readJSONFile(filepath.Join(o.JobDir, jobpod.JobFile), &p.job); err != nil {
		return nil, err
	}
	if err := readJSONFile(filepath.Join(o.JobDir, jobpod.ConfigFile), &p.cfg); err != nil {
		return nil, err
	}
	t := p.cfg.Trace
	if t == nil {
		return nil, errors.New("the agent configuration has no trace settings")
	}
	p.state = jobpod.ShipperState{Offset: t.Offset, CRC: t.CRC}
	// A restarted shipper goes on from what GitLab acknowledged before.
	var prev jobpod.ShipperState
	if err := readJSONFile(p.path(jobpod.TraceProgress), &prev); err == nil && prev.Offset >= t.Offset {
		p.state = prev
	}
	src, err := openPodSource(p.path(jobpod.TraceLog), t.Offset, t.Limit)
	if err != nil {
		return nil, err
	}
	p.src = src
	timing := Timing{
		TraceInterval: time.Duration(t.IntervalMS) * time.Millisecond,
		KeepAlive:     time.Duration(t.KeepAliveMS) * time.Millisecond,
		Backoff:       podBackoff,
		ReportTries:   podReportTries,
	}.withDefaults()
	interval := cmp.Or(timing.TraceInterval, defaultTraceInterval)
	jc := gitlab.JobCredentials{URL: p.cfg.GitLabURL, ID: p.job.ID, Token: p.job.Token}
	p.sh = newShipper(o.GitLab, jc, src, timing, interval, o.Log, t.Offset, t.CRC)
	if p.state.Offset > t.Offset {
		p.sh.sent, p.sh.crc = p.state.Offset, p.state.CRC
	}
	p.sh.onCancel = func() { p.touch(jobpod.TraceCancel) }
	p.sh.onAbort = func() { p.touch(jobpod.TraceCancel) }
	p.sh.onProgress = func(sent int64, crc uint32) {
		p.state.Offset, p.state.CRC, p.state.Consumed = sent, crc, src.consumed(sent)
		_ = p.writeProgress()
	}
	return p, nil
}

// waitVerdict waits for the agent's verdict. After stop it looks once more: the agent
// writes its verdict before it exits, and the kubelet stops the shipper after that.
func (p *podShip) waitVerdict(stop <-chan struct{}) (jobpod.Verdict, bool) {
	t := time.NewTicker(verdictPoll)
	defer t.Stop()
	for {
		var v jobpod.Verdict
		if err := readJSONFile(p.path(jobpod.TraceVerdict), &v); err == nil {
			return v, true
		}
		select {
		case <-stop:
			err := readJSONFile(p.path(jobpod.TraceVerdict), &v)
			return v, err == nil
		case <-p.sh.done:
			return jobpod.Verdict{}, false // GitLab dropped the job
		case <-t.C:
		}
	}
}

// finish delivers the rest and reports whether the final state may be sent.
func (p *podShip) finish() bool {
	err := p.sh.flush()
	p.state.Gone = p.sh.aborted
	p.state.Complete = err == nil && !p.sh.aborted
	if err != nil {
		p.o.Log.Warn("trace not completely delivered", "err", err)
		return false
	}
	return !p.sh.aborted
}

// report sends the final state, retried as the runner does; should it fail, the runner
// sends it from the state this shipper leaves.
func (p *podShip) report(ctx context.Context, res jobspec.Result) {
	req := finalState(&p.job, res, fmt.Sprintf("crc32:%08x", p.state.CRC), p.state.Offset)
	got, err := updateJob(ctx, p.sh.coord, p.sh.jc, req, p.sh.interval, p.sh.timing, time.Time{})
	switch {
	case err != nil:
		p.o.Log.Warn("final job state not delivered; the runner will send it", "err", err)
	case got == gitlab.UpdateTraceNotYet:
		p.o.Log.Warn("the coordinator still waits for the trace; the runner will send the final state")
	default:
		p.state.Reported, p.state.Gone = got != gitlab.UpdateAbort, got == gitlab.UpdateAbort
		p.state.State, p.state.Reason = string(req.State), string(req.FailureReason)
		if req.ExitCode != nil {
			p.state.ExitCode = *req.ExitCode
		}
	}
}

// record leaves the state for a restarted shipper and, as the termination message, for the runner.
func (p *podShip) record() error {
	err := p.writeProgress()
	// The termination log is a bind mount: it cannot be renamed over, and the kubelet reads
	// it only once the container has exited.
	b, jerr := json.Marshal(p.state)
	if jerr == nil {
		jerr = os.WriteFile(p.o.TerminationLog, b, 0o644)
	}
	if jerr != nil {
		jerr = fmt.Errorf("record the shipper's state: %w", jerr)
	}
	return errors.Join(err, jerr)
}

// writeProgress leaves the state where the agent (backpressure) and a restarted shipper read it.
func (p *podShip) writeProgress() error {
	if err := jobpod.WriteJSON(p.path(jobpod.TraceProgress), p.state); err != nil {
		return fmt.Errorf("record the shipper's state: %w", err)
	}
	return nil
}

func (p *podShip) touch(name string) {
	if err := os.WriteFile(p.path(name), nil, 0o644); err != nil {
		p.o.Log.Warn("could not tell the agent", "file", name, "err", err)
	}
}

func (p *podShip) path(name string) string { return filepath.Join(p.o.TraceDir, name) }

// verdictResult is the agent's verdict as the job's result.
func verdictResult(v jobpod.Verdict) jobspec.Result {
	res := jobspec.Result{ExitCode: v.ExitCode, Reason: jobspec.FailureReason(v.Reason)}
	if res.Reason == jobspec.FailureNone && v.ExitCode != 0 {
		res.Reason = jobspec.ScriptFailure
	}
	if v.Message != "" {
		res.Err = errors.New(v.Message)
	}
	return res
}

func readJSONFile(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}
