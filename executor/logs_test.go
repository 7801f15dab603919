package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// stampedLine is one log line as the kubelet serves it with timestamps.
type stampedLine struct {
	at   time.Time
	text string
}

var base = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func stamped(lines []stampedLine) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.at.Format(time.RFC3339Nano) + " " + l.text)
	}
	return b.String()
}

// fakeLogs serves a container's whole log, filtered by SinceTime as the kubelet does (whole
// seconds), cut after the byte counts in drops, one per open: a connection that drops.
type fakeLogs struct {
	mu    sync.Mutex
	lines map[string][]stampedLine
	drops map[string][]int
	opens []string
}

func (f *fakeLogs) Stream(_ context.Context, _, _ string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opens = append(f.opens, opts.Container)
	var lines []stampedLine
	for _, l := range f.lines[opts.Container] {
		if opts.SinceTime == nil || !l.at.Before(opts.SinceTime.Truncate(time.Second)) {
			lines = append(lines, l)
		}
	}
	s := stamped(lines)
	if d := f.drops[opts.Container]; len(d) > 0 {
		f.drops[opts.Container] = d[1:]
		s = s[:min(d[0], len(s))]
	}
	return io.NopCloser(strings.NewReader(s)), nil
}

func TestLogPositionResumesWithoutLossOrDuplicate(t *testing.T) {
	long := strings.Repeat("x", 200<<10) + "\n" // longer than the reader's buffer
	lines := []stampedLine{
		{base, "one\n"}, {base, "one again, same nanosecond\n"},
		{base.Add(time.Millisecond), "two\n"},
		{base.Add(2 * time.Millisecond), long},
		{base.Add(time.Second), "three\n"},
		{base.Add(time.Second), "three again\n"},
		{base.Add(3 * time.Second), "last, no newline"},
	}
	var want strings.Builder
	for _, l := range lines {
		want.WriteString(l.text)
	}
	full := stamped(lines)
	// Every cut point of interest: inside a stamp, inside a line, between lines.
	for _, cut := range []int{5, 40, 60, 100, 150, 5000, 150000, len(full) - 200, len(full) - 3} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			src := &fakeLogs{lines: map[string][]stampedLine{"c": lines}, drops: map[string][]int{"c": {cut}}}
			var out bytes.Buffer
			var pos logPosition
			for range 2 {
				opts := &corev1.PodLogOptions{Container: "c"}
				if !pos.last.IsZero() {
					opts.SinceTime = &metav1.Time{Time: pos.last}
				}
				rc, _ := src.Stream(context.Background(), "", "", opts)
				if err := pos.copy(&out, rc); err != nil {
					t.Fatal(err)
				}
			}
			if out.String() != want.String() {
				t.Errorf("log after a drop at byte %d: %d bytes, want %d; diff -want +got:\n%s", cut, out.Len(), want.Len(),
					cmp.Diff(strings.Split(want.String(), "\n"), strings.Split(out.String(), "\n")))
			}
		})
	}
}

func TestFollowerReopensDroppedStreamUntilContainerEnds(t *testing.T) {
	src := &fakeLogs{
		lines: map[string][]stampedLine{
			prepareContainer: {{base, "cloning\n"}},
			buildContainer:   {{base.Add(time.Second), "a\n"}, {base.Add(2 * time.Second), "b\n"}, {base.Add(3 * time.Second), "c\n"}},
		},
		drops: map[string][]int{buildContainer: {45}},
	}
	feed := &podFeed{changed: make(chan struct{})}
	pod := &corev1.Pod{Status: corev1.PodStatus{
		InitContainerStatuses: []corev1.ContainerStatus{terminatedStatus(prepareContainer, 0, "Completed", "")},
		ContainerStatuses:     []corev1.ContainerStatus{terminatedStatus(buildContainer, 0, "Completed", "")},
	}}
	feed.set(pod, false)
	var out bytes.Buffer
	f := &follower{src: src, feed: feed, out: &out}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.run(ctx); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff("cloning\na\nb\nc\n", out.String()); d != "" {
		t.Errorf("job log -want +got:\n%s", d)
	}
	if d := cmp.Diff([]string{prepareContainer, prepareContainer, buildContainer, buildContainer}, src.opens); d != "" {
		t.Errorf("log opens -want +got:\n%s", d)
	}
}

func TestFollowerSkipsContainersThatNeverStarted(t *testing.T) {
	src := &fakeLogs{lines: map[string][]stampedLine{prepareContainer: {{base, "clone failed\n"}}}}
	feed := &podFeed{changed: make(chan struct{})}
	feed.set(&corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed,
		InitContainerStatuses: []corev1.ContainerStatus{terminatedStatus(prepareContainer, 1, "Error", "")},
	}}, false)
	var out bytes.Buffer
	f := &follower{src: src, feed: feed, out: &out}
	if err := f.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff("clone failed\n", out.String()); d != "" {
		t.Errorf("job log -want +got:\n%s", d)
	}
}

type failingLogs struct{}

func (failingLogs) Stream(context.Context, string, string, *corev1.PodLogOptions) (io.ReadCloser, error) {
	return nil, errors.New("connection refused")
}

func TestFollowerGivesUpOnALogThatNeverOpens(t *testing.T) {
	feed := &podFeed{changed: make(chan struct{})}
	feed.set(&corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning,
		InitContainerStatuses: []corev1.ContainerStatus{{Name: prepareContainer, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}},
	}}, false)
	f := &follower{src: failingLogs{}, feed: feed, out: io.Discard}
	err := f.run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("follow a log that never opens: want an error naming the cause, got %v", err)
	}
}
