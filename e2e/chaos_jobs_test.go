//go:build e2e

package e2e

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/jobspec"
)

// chaosJob is one job of the chaos run and what its record must show at the end.
type chaosJob struct {
	id     int64
	job    jobspec.Job
	secret string // a masked value the job prints; "" if none
	check  func(t *testing.T, s *execStack, rec coordinator.JobRecord)
}

// chaosJobs are the run's 30 jobs. The first two run a minute and are the ones whose pods
// get deleted; the rest are shuffled by rng, so each seed queues them in another order.
func chaosJobs(s *execStack, rng *rand.Rand) []chaosJob {
	var jobs []chaosJob
	add := func(n int, mk func(name string) chaosJob) {
		for i := range n {
			jobs = append(jobs, mk(fmt.Sprintf("%d", i)))
		}
	}
	add(2, func(n string) chaosJob { return longJob(s, "victim-"+n, true) })
	add(4, func(n string) chaosJob { return longJob(s, "long-"+n, false) })
	add(10, func(n string) chaosJob { return quickJob(s, "quick-"+n) })
	add(5, func(n string) chaosJob { return failingJob(s, "fail-"+n) })
	add(5, func(n string) chaosJob { return artifactJob(s, "art-"+n) })
	add(4, func(n string) chaosJob { return maskedJob(s, "masked-"+n) })
	rest := jobs[2:]
	rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	return jobs
}

// numbered is what `seq 1 n | sed "s/^/prefix /"` prints.
func numbered(prefix string, n int) []byte {
	var b bytes.Buffer
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%s %d\n", prefix, i)
	}
	return b.Bytes()
}

// wantOutput checks the job's output is in its trace once, byte for byte.
func wantOutput(t *testing.T, rec coordinator.JobRecord, out []byte) {
	t.Helper()
	if n := bytes.Count(rec.Trace, out); n != 1 {
		t.Errorf("job %d (%s): its %d bytes of output are in the trace %d times, want once; trace:\n%s",
			rec.ID, rec.Job.JobInfo.Name, len(out), n, clip(rec.Trace, 4000))
	}
}

func wantState(t *testing.T, rec coordinator.JobRecord, status string, reason jobspec.FailureReason) {
	t.Helper()
	if rec.Status != status || rec.FailureReason != reason {
		t.Errorf("job %d (%s): %s %q, want %s %q; trace ends:\n%s", rec.ID, rec.Job.JobInfo.Name,
			rec.Status, rec.FailureReason, status, reason, tail(rec.Trace, 1500))
	}
}

func longJob(s *execStack, name string, victim bool) chaosJob {
	script := fmt.Sprintf(`for i in $(seq 1 60); do echo "%s line $i"; sleep 1; done`, name)
	return chaosJob{job: s.job(name, script), check: func(t *testing.T, _ *execStack, rec coordinator.JobRecord) {
		if victim {
			wantDeleted(t, rec)
			return
		}
		wantState(t, rec, coordinator.StatusSuccess, "")
		wantOutput(t, rec, numbered(name+" line", 60))
	}}
}

func quickJob(s *execStack, name string) chaosJob {
	return chaosJob{job: s.job(name, fmt.Sprintf(`seq 1 200 | sed "s/^/%s /"`, name)),
		check: func(t *testing.T, _ *execStack, rec coordinator.JobRecord) {
			wantState(t, rec, coordinator.StatusSuccess, "")
			wantOutput(t, rec, numbered(name, 200))
		}}
}

func failingJob(s *execStack, name string) chaosJob {
	return chaosJob{job: s.job(name, fmt.Sprintf(`seq 1 50 | sed "s/^/%s /"; exit 3`, name)),
		check: func(t *testing.T, _ *execStack, rec coordinator.JobRecord) {
			wantState(t, rec, coordinator.StatusFailed, jobspec.ScriptFailure)
			wantOutput(t, rec, numbered(name, 50))
			if rec.ExitCode == nil || *rec.ExitCode != 3 {
				t.Errorf("job %d: exit code %v, want 3", rec.ID, rec.ExitCode)
			}
		}}
}

func artifactJob(s *execStack, name string) chaosJob {
	job := s.job(name, fmt.Sprintf(`mkdir -p out && seq 1 1000 | sed "s/^/%s /" > out/data.txt && echo "%s wrote its artifact"`, name, name))
	job.Artifacts = []jobspec.Artifact{{Name: name, Paths: []string{"out/"}, When: jobspec.WhenOnSuccess, ArtifactType: "archive", ArtifactFormat: "zip"}}
	return chaosJob{job: job, check: func(t *testing.T, _ *execStack, rec coordinator.JobRecord) {
		wantState(t, rec, coordinator.StatusSuccess, "")
		if len(rec.Artifacts) != 1 {
			t.Errorf("job %d: %d artifacts uploads, want exactly one", rec.ID, len(rec.Artifacts))
			return
		}
		got, err := zipFile(rec.Artifacts[0].Path, "out/data.txt")
		if err != nil {
			t.Errorf("job %d: artifact: %v", rec.ID, err)
		} else if !bytes.Equal(got, numbered(name, 1000)) {
			t.Errorf("job %d: out/data.txt in the artifact differs from what the job wrote (%d bytes)", rec.ID, len(got))
		}
	}}
}

func maskedJob(s *execStack, name string) chaosJob {
	secret := "chaos-" + name + "-Zq7vT9xwK2"
	job := s.job(name, fmt.Sprintf(`for i in $(seq 1 20); do echo "%s $i $CHAOS_SECRET"; done`, name))
	job.Variables = append(job.Variables, jobspec.Variable{Key: "CHAOS_SECRET", Value: secret, Masked: true})
	return chaosJob{job: job, secret: secret, check: func(t *testing.T, _ *execStack, rec coordinator.JobRecord) {
		wantState(t, rec, coordinator.StatusSuccess, "")
		var out bytes.Buffer
		for i := 1; i <= 20; i++ {
			fmt.Fprintf(&out, "%s %d [MASKED]\n", name, i)
		}
		wantOutput(t, rec, out.Bytes())
		if bytes.Contains(rec.Trace, []byte(secret)) {
			t.Errorf("job %d: the masked value is in the trace", rec.ID)
		}
	}}
}

// zipFile reads one file of a zip archive on disk.
func zipFile(path, name string) ([]byte, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	for _, f := range zr.File {
		if strings.TrimPrefix(f.Name, "./") == name {
			rc, err := f.Open()
			if err != nil {
				return nil, err
			}
			defer rc.Close()
			return io.ReadAll(rc)
		}
	}
	return nil, fmt.Errorf("%s is not in the archive", name)
}
