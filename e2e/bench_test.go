//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/e2e/e2eutil"
)

// BenchmarkJobVsBarePod is the end-to-end part of `make bench`: the same trivial work as a
// bare pod (the physical limit: create → Succeeded) and as a GitLab job through a real
// `kuberunner run` process (queued → final state), interleaved round by round so that the
// machine's noise hits both alike; then a burst of 20 of each at concurrency 4, and the
// runner's memory idle, with 20 jobs running and under a 50 MiB log; and an image build job
// (examples/app) cold, unchanged and after a one-line change. It prints a table with
// each figure's ratio to the bare pod and writes it as JSON to $KR_BENCH_REPORT (default:
// kuberunner-bench.json in the temp directory). Run it once: -benchtime 1x.
func BenchmarkJobVsBarePod(b *testing.B) {
	rounds := 10
	if v, err := strconv.Atoi(os.Getenv("KR_BENCH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	for range b.N {
		r := &benchReport{Rounds: rounds}
		s := newStackNoRunner(b, func(c *config.Config) {
			c.Concurrent = 4
			c.Runners[0].OutputLimit = 200 << 10
		}, nil)
		po := newPodObserver(b, s)
		proc := newRunnerProcess(b, s.cfg)
		proc.start(b)
		r.RSSIdleMiB = settleRSS(proc, 5*time.Second)
		r.measureSingles(b, s, po, rounds)
		r.measureBursts(b, s, 20, 4, 3)
		r.PeakRSSLogMiB = measureBigLog(b, s, proc)
		proc.signal(b, 15)

		s.cfg.Concurrent, s.cfg.Runners[0].Limit = 20, 20
		wide := newRunnerProcess(b, s.cfg)
		wide.start(b)
		r.RSS20JobsMiB = measureRSSWithJobs(b, s, wide, 20)
		wide.signal(b, 15)

		cold, cached, changed := buildThrice(b, newImageEnv(b))
		r.BuildColdS, r.BuildCachedS, r.BuildChangedS = cold.took.Seconds(), cached.took.Seconds(), changed.took.Seconds()
		r.print(os.Stdout)
		r.write(b)
		b.ReportMetric(r.JobMedianS/r.PodMedianS, "job/pod")
		b.ReportMetric(r.JobMedianS, "job-s")
		b.ReportMetric(r.PodMedianS, "pod-s")
	}
}

// benchReport is what the benchmark measured; the JSON field names are its schema.
type benchReport struct {
	Rounds        int     `json:"rounds"`
	PodMedianS    float64 `json:"bare_pod_create_to_succeeded_s"`
	JobMedianS    float64 `json:"job_queued_to_final_s"`
	PodCreatedS   float64 `json:"job_queued_to_pod_created_s"`
	FirstByteS    float64 `json:"job_queued_to_first_trace_byte_s"`
	ScriptOutS    float64 `json:"job_pod_created_to_script_output_s"`
	OutToFinalS   float64 `json:"job_script_output_to_final_s"`
	BurstJobsMin  float64 `json:"burst_jobs_per_min"`
	BurstPodsMin  float64 `json:"burst_bare_pods_per_min"`
	RSSIdleMiB    float64 `json:"runner_rss_idle_mib"`
	RSS20JobsMiB  float64 `json:"runner_rss_20_jobs_running_mib"`
	PeakRSSLogMiB float64 `json:"runner_peak_rss_50mib_log_mib"`
	BuildColdS    float64 `json:"image_build_cold_s"`
	BuildCachedS  float64 `json:"image_build_all_cached_s"`
	BuildChangedS float64 `json:"image_build_one_line_change_s"`
}

// measureSingles alternates a bare pod and a trivial job, rounds times, and keeps medians.
func (r *benchReport) measureSingles(b *testing.B, s *execStack, po *podObserver, rounds int) {
	var pods, jobs, created, first, out, final []float64
	for i := range rounds {
		runPod := func() { pods = append(pods, barePod(b, s, "echo hi").Seconds()) }
		runJob := func() {
			p := s.timeJob(b, po, "echo hi")
			jobs, created, first = append(jobs, p.final.Seconds()), append(created, p.podCreated.Seconds()), append(first, p.firstByte.Seconds())
			out, final = append(out, (p.output-p.podCreated).Seconds()), append(final, (p.final-p.output).Seconds())
		}
		if i%2 == 0 {
			runPod()
			runJob()
		} else {
			runJob()
			runPod()
		}
	}
	r.PodMedianS, r.JobMedianS = median(pods), median(jobs)
	r.PodCreatedS, r.FirstByteS, r.ScriptOutS, r.OutToFinalS = median(created), median(first), median(out), median(final)
}

// measureBursts runs bursts of n jobs and of n bare pods, each at the given concurrency,
// alternating for rounds rounds (jobs first in odd ones), and keeps the median rates: a burst
// takes seconds, and one machine hiccup would otherwise decide the ratio.
func (r *benchReport) measureBursts(b *testing.B, s *execStack, n, concurrency, rounds int) {
	var jobs, pods []float64
	for i := range rounds {
		runJobs := func() { jobs = append(jobs, burstOfJobs(b, s, n)) }
		runPods := func() { pods = append(pods, burstOfPods(b, s, n, concurrency)) }
		if i%2 == 0 {
			runJobs()
			runPods()
		} else {
			runPods()
			runJobs()
		}
	}
	r.BurstJobsMin, r.BurstPodsMin = median(jobs), median(pods)
}

// burstOfJobs queues n trivial jobs at once and returns how many finished per minute; the
// runner's concurrent setting is the concurrency.
func burstOfJobs(b *testing.B, s *execStack, n int) float64 {
	start := time.Now()
	var ids []int64
	for i := range n {
		ids = append(ids, s.srv.Enqueue(s.job(fmt.Sprintf("burst-%d", i), "echo hi"), nil))
	}
	for _, id := range ids {
		s.finish(b, id, 5*time.Minute)
	}
	return float64(n) / time.Since(start).Minutes()
}

// burstOfPods runs n bare pods, concurrency at a time, and returns how many per minute.
func burstOfPods(b *testing.B, s *execStack, n, concurrency int) float64 {
	start := time.Now()
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			barePod(b, s, "echo hi")
		})
	}
	wg.Wait()
	return float64(n) / time.Since(start).Minutes()
}

// barePod runs script in a pod of the job image, as plain as a pod gets, and returns the
// time from its creation request to the API server saying it succeeded.
func barePod(b *testing.B, s *execStack, script string) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "bare-", Namespace: s.ns},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: new(false),
			EnableServiceLinks:           new(false),
			Containers:                   []corev1.Container{{Name: "main", Image: s.images.DebianGit, Command: []string{"sh", "-c", script}}},
		},
	}
	start := time.Now()
	created, err := s.client.CoreV1().Pods(s.ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		b.Fatalf("create bare pod: %v", err)
	}
	if _, err := e2eutil.WaitPod(ctx, s.client, s.ns, created.Name, e2eutil.Succeeded); err != nil {
		b.Fatal(err)
	}
	d := time.Since(start)
	_ = s.client.CoreV1().Pods(s.ns).Delete(ctx, created.Name, metav1.DeleteOptions{})
	return d
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (r *benchReport) write(b *testing.B) {
	writeReport(b, "KR_BENCH_REPORT", "kuberunner-bench.json", r)
}

// writeReport writes a benchmark's report as JSON to the file $env names, by default name in
// the temp directory, and says where.
func writeReport(b *testing.B, env, name string, report any) {
	path := os.Getenv(env)
	if path == "" {
		path = filepath.Join(os.TempDir(), name)
	}
	data, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		b.Fatal(err)
	}
	fmt.Printf("report written to %s\n", path)
}
