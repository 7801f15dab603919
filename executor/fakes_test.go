package executor

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kuberunner/kuberunner/executor/jobpod"
)

// stampedLine is one log line as the kubelet serves it with timestamps.
type stampedLine struct {
	at   time.Time
	text string
}

var base = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeLogs serves a container's whole log, as the kubelet does for a service's last lines.
type fakeLogs struct {
	mu    sync.Mutex
	lines map[string][]stampedLine
}

func (f *fakeLogs) Stream(_ context.Context, _, _ string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	for _, l := range f.lines[opts.Container] {
		if opts.Timestamps {
			b.WriteString(l.at.Format(time.RFC3339Nano) + " ")
		}
		b.WriteString(l.text)
	}
	return io.NopCloser(strings.NewReader(b.String())), nil
}

// fakeHandover is a runner's job log that records what the executor did with the trace.
type fakeHandover struct {
	mu       sync.Mutex
	log      strings.Builder
	handed   bool
	resumed  *jobpod.ShipperState
	known    bool
	reported *jobpod.ShipperState
}

// handedAt is where the fake runner's part of the trace ends.
const handedAt = 1234

func (f *fakeHandover) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.log.Write(p)
}

func (f *fakeHandover) Handover(context.Context) (jobpod.Trace, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handed = true
	return jobpod.Trace{Offset: handedAt, CRC: 7, MaxLag: 1 << 20}, nil
}

func (f *fakeHandover) Resume(_ context.Context, st jobpod.ShipperState, known bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resumed, f.known = &st, known
	return nil
}

func (f *fakeHandover) Reported(st jobpod.ShipperState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reported = &st
}

func (f *fakeHandover) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.log.String()
}

// restartedShipper is a shipper that exited after delivering st and runs again.
func restartedShipper(st jobpod.ShipperState) corev1.ContainerStatus {
	cs := shipperEnded(st)
	cs.LastTerminationState, cs.State = cs.State, corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	cs.RestartCount = 1
	return cs
}

// shipperEnded is the shipper's terminated status with st as its termination message.
func shipperEnded(st jobpod.ShipperState) corev1.ContainerStatus {
	b, _ := json.Marshal(st)
	return terminatedStatus(jobpod.ShipperContainer, 0, "Completed", string(b))
}
