//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/coordinator"
)

// BenchmarkScale is `make bench-scale`: a real `kuberunner run` process against the local
// cluster's real API server and scheduler, with job pods bound to simulated nodes that a
// fake kubelet drives (no container runs), and a coordinator that queues the jobs. For each
// step of $KR_SCALE_STEPS (default 100,250,500,1000) a fresh runner takes that many jobs, all
// held in flight at once; then they are released and drained. It reports, per step, the
// runner's resident memory and Go heap with every job in flight, CPU seconds and API requests
// per job, and the times to fill and to drain; and the slope of memory over jobs in flight
// (least squares, KiB per job). JSON goes to $KR_SCALE_REPORT. Not part of CI.
func BenchmarkScale(b *testing.B) {
	steps := scaleSteps(b)
	most := steps[len(steps)-1]
	listen := freeLoopbackAddr(b)
	for range b.N {
		s := newStackNoRunner(b, func(c *config.Config) {
			c.Concurrent, c.LogLevel, c.ListenAddress = most, "info", listen
			r := &c.Runners[0]
			r.Limit = most
			r.Kubernetes.NodeSelector = map[string]string{fakeNodeKey: "true"}
			r.Kubernetes.Tolerations = []config.Toleration{{Key: fakeNodeKey, Operator: "Equal", Value: "true", Effect: "NoSchedule"}}
		}, nil)
		fk := startFakeKubelet(b, s.ns, max(1, most/250))
		var rep scaleReport
		for _, n := range steps {
			rep.Steps = append(rep.Steps, s.scaleStep(b, fk, listen, n))
		}
		rep.fit()
		rep.print(os.Stdout)
		rep.write(b)
		b.ReportMetric(rep.SlopeKiBPerJob, "KiB/job")
	}
}

// scaleStep is one runner process taking n jobs at once.
type scaleStep struct {
	Jobs            int     `json:"jobs_in_flight"`
	FillS           float64 `json:"queued_to_all_running_s"`
	DrainS          float64 `json:"released_to_all_final_s"`
	RSSIdleMiB      float64 `json:"runner_rss_idle_mib"`
	RSSMiB          float64 `json:"runner_rss_in_flight_mib"`
	HeapMiB         float64 `json:"runner_heap_in_use_in_flight_mib"`
	CPUmsPerJob     float64 `json:"runner_cpu_ms_per_job"`
	RequestsPerJob  float64 `json:"kube_api_requests_per_job"`
	CoordReqsPerJob float64 `json:"coordinator_requests_per_job"`
}

func (s *execStack) scaleStep(b *testing.B, fk *fakeKubelet, listen string, n int) scaleStep {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	proc := newRunnerProcess(b, s.cfg)
	proc.start(b)
	pid := proc.cmd.Process.Pid
	st := scaleStep{Jobs: n, RSSIdleMiB: settleRSS(proc, 5*time.Second)}
	before, cpu0 := scrape(b, listen), cpuSeconds(pid)

	fk.hold()
	start := time.Now()
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = s.srv.Enqueue(s.job(fmt.Sprintf("scale-%d", i), "true"), nil)
	}
	if got := fk.waitRunning(ctx, n); got < n {
		b.Fatalf("only %d of %d job pods running after %s", got, n, time.Since(start).Round(time.Second))
	}
	st.FillS = time.Since(start).Seconds()
	time.Sleep(5 * time.Second) // every job is now only waiting for its pod
	st.RSSMiB = rssMiB(pid, "VmRSS")
	st.HeapMiB = scrape(b, listen)["go_memstats_heap_inuse_bytes"] / (1 << 20)

	released := time.Now()
	fk.release(ctx)
	for _, id := range ids {
		if rec := s.finish(b, id, 15*time.Minute); rec.Status != coordinator.StatusSuccess {
			b.Fatalf("job %d: %s %s\n%s", id, rec.Status, rec.FailureReason, rec.Trace)
		}
	}
	st.DrainS = time.Since(released).Seconds()
	after, cpu1 := scrape(b, listen), cpuSeconds(pid)
	st.CPUmsPerJob = (cpu1 - cpu0) * 1000 / float64(n)
	st.RequestsPerJob = (after["kuberunner_kube_api_requests_total"] - before["kuberunner_kube_api_requests_total"]) / float64(n)
	st.CoordReqsPerJob = (after["gitlab_runner_api_request_statuses_total"] - before["gitlab_runner_api_request_statuses_total"]) / float64(n)
	proc.signal(b, syscall.SIGTERM)
	s.waitNoPods(ctx, b)
	b.Logf("%d jobs: %+v", n, st)
	return st
}

// waitNoPods waits for the runner's cleanup of the last step, so steps do not overlap.
func (s *execStack) waitNoPods(ctx context.Context, b *testing.B) {
	for ctx.Err() == nil {
		pods, err := s.client.CoreV1().Pods(s.ns).List(ctx, metav1.ListOptions{})
		if err == nil && len(pods.Items) == 0 {
			return
		}
		time.Sleep(time.Second)
	}
	b.Fatal("job pods were left after the step")
}

func scaleSteps(b *testing.B) []int {
	spec := os.Getenv("KR_SCALE_STEPS")
	if spec == "" {
		spec = "100,250,500,1000"
	}
	var steps []int
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 || (len(steps) > 0 && n <= steps[len(steps)-1]) {
			b.Fatalf("KR_SCALE_STEPS=%q: want increasing positive job counts such as 100,250,500,1000", spec)
		}
		steps = append(steps, n)
	}
	return steps
}

func freeLoopbackAddr(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// scrape sums each counter and gauge of the runner's /metrics over its labels.
func scrape(b *testing.B, addr string) map[string]float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		b.Fatalf("scrape the runner: %v", err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		b.Fatalf("parse the runner's metrics: %v", err)
	}
	sums := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			sums[name] += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sums
}

// cpuSeconds is the user and system time of a process, from /proc/<pid>/stat.
func cpuSeconds(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which may hold spaces, in parentheses: utime and stime
	// are the 14th and 15th fields of the whole line.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ is 100 on Linux
}

type scaleReport struct {
	Steps          []scaleStep `json:"steps"`
	SlopeKiBPerJob float64     `json:"rss_slope_kib_per_job"`
	HeapKiBPerJob  float64     `json:"heap_slope_kib_per_job"`
}

// fit is the least-squares slope of memory over jobs in flight.
func (r *scaleReport) fit() {
	slope := func(y func(scaleStep) float64) float64 {
		var n, sx, sy, sxx, sxy float64
		for _, st := range r.Steps {
			x := float64(st.Jobs)
			n, sx, sy, sxx, sxy = n+1, sx+x, sy+y(st), sxx+x*x, sxy+x*y(st)
		}
		if d := n*sxx - sx*sx; d != 0 {
			return (n*sxy - sx*sy) / d * 1024
		}
		return 0
	}
	r.SlopeKiBPerJob = slope(func(s scaleStep) float64 { return s.RSSMiB })
	r.HeapKiBPerJob = slope(func(s scaleStep) float64 { return s.HeapMiB })
}

func (r *scaleReport) print(w io.Writer) {
	fmt.Fprintf(w, "\n%8s %8s %8s %10s %10s %10s %10s %12s %12s\n", "jobs", "fill s", "drain s", "RSS idle", "RSS", "heap MiB", "CPU ms/job", "kube req/job", "GitLab req/job")
	for _, s := range r.Steps {
		fmt.Fprintf(w, "%8d %8.1f %8.1f %10.1f %10.1f %10.1f %10.1f %12.1f %12.1f\n", s.Jobs, s.FillS, s.DrainS, s.RSSIdleMiB, s.RSSMiB, s.HeapMiB, s.CPUmsPerJob, s.RequestsPerJob, s.CoordReqsPerJob)
	}
	fmt.Fprintf(w, "memory per job in flight: %.1f KiB resident, %.1f KiB heap (least squares over the steps)\n\n", r.SlopeKiBPerJob, r.HeapKiBPerJob)
}

func (r *scaleReport) write(b *testing.B) {
	writeReport(b, "KR_SCALE_REPORT", "kuberunner-scale.json", r)
}
