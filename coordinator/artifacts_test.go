package coordinator_test

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/jobspec"
)

// streamMultipart returns a body that streams content as the multipart field "file",
// written as it is read: neither side holds the whole upload.
func streamMultipart(filename string, content io.Reader) (io.Reader, string) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := mw.WriteField("note", "parts other than file are skipped")
		if err == nil {
			var part io.Writer
			if part, err = mw.CreateFormFile("file", filename); err == nil {
				_, err = io.Copy(part, content)
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, mw.FormDataContentType()
}

func (a api) upload(id int64, token, query, filename string, content io.Reader) reply {
	a.t.Helper()
	body, contentType := streamMultipart(filename, content)
	return a.call(http.MethodPost, "/api/v4/jobs/"+itoa(id)+"/artifacts"+query,
		map[string]string{"JOB-TOKEN": token, "Content-Type": contentType}, body)
}

func (a api) download(id int64, token string) reply {
	a.t.Helper()
	return a.call(http.MethodGet, "/api/v4/jobs/"+itoa(id)+"/artifacts", map[string]string{"JOB-TOKEN": token}, nil)
}

func TestArtifactsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, a := start(t, coordinator.Options{ArtifactsDir: dir})
	job := runningJob(t, s, a)
	content := []byte("PK\x03\x04 not really a zip")

	r := a.upload(job.ID, job.Token, "?artifact_format=zip&artifact_type=archive&expire_in=1+week", "build.zip", bytes.NewReader(content))
	if r.status != http.StatusCreated {
		t.Fatalf("upload = %d %s, want 201", r.status, r.body)
	}
	r = a.upload(job.ID, job.Token, "?artifact_format=gzip&artifact_type=junit", "junit.xml.gz", strings.NewReader("<xml/>"))
	if r.status != http.StatusCreated {
		t.Fatalf("junit upload = %d %s, want 201", r.status, r.body)
	}

	rec, _ := s.Job(job.ID)
	want := []coordinator.StoredArtifact{
		{Name: "build", Filename: "build.zip", Format: "zip", Type: "archive", ExpireIn: "1 week", Size: int64(len(content))},
		{Name: "junit.xml", Filename: "junit.xml.gz", Format: "gzip", Type: "junit", Size: 6},
	}
	if d := cmp.Diff(want, rec.Artifacts, cmpopts.IgnoreFields(coordinator.StoredArtifact{}, "Path")); d != "" {
		t.Errorf("Artifacts -want +got:\n%s", d)
	}
	for _, art := range rec.Artifacts {
		if filepath.Dir(art.Path) != dir {
			t.Errorf("artifact stored at %s, want under %s", art.Path, dir)
		}
	}

	r = a.download(job.ID, job.Token)
	if r.status != http.StatusOK || !bytes.Equal(r.body, content) {
		t.Errorf("download = %d %q, want 200 %q", r.status, r.body, content)
	}
	if got := r.header.Get("Content-Disposition"); got != `attachment; filename=build.zip` {
		t.Errorf("Content-Disposition = %q", got)
	}
}

func TestLargeArtifactIsStreamed(t *testing.T) {
	s, a := start(t, coordinator.Options{})
	job := runningJob(t, s, a)
	const size = 20 << 20
	random := func() io.Reader { return io.LimitReader(rand.NewChaCha8([32]byte{7}), size) }

	// Allocation, not time: an upload held in memory anywhere on its way allocates its size.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := a.upload(job.ID, job.Token, "", "big.zip", random())
	runtime.ReadMemStats(&after)
	if r.status != http.StatusCreated {
		t.Fatalf("20 MB upload = %d %s, want 201", r.status, r.body)
	}
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > size/4 {
		t.Errorf("the 20 MB upload allocated %d bytes: it was buffered, not streamed", allocated)
	}
	wantSum := sha256.New()
	if _, err := io.Copy(wantSum, random()); err != nil {
		t.Fatal(err)
	}

	rec, _ := s.Job(job.ID)
	if len(rec.Artifacts) != 1 || rec.Artifacts[0].Size != size {
		t.Fatalf("Artifacts = %+v, want one of %d bytes", rec.Artifacts, size)
	}
	if fi, err := os.Stat(rec.Artifacts[0].Path); err != nil || fi.Size() != size {
		t.Errorf("stored file: %v, err %v; want %d bytes", fi, err, size)
	}
	r = a.download(job.ID, job.Token)
	if got := sha256.Sum256(r.body); r.status != http.StatusOK || !bytes.Equal(got[:], wantSum.Sum(nil)) {
		t.Errorf("download = %d with %d bytes, want 200 and the uploaded bytes", r.status, len(r.body))
	}
}

func TestArtifactTooLarge(t *testing.T) {
	s, a := start(t, coordinator.Options{MaxArtifactSize: 1000})
	job := runningJob(t, s, a)

	// Streamed: no Content-Length, so the limit is found while copying.
	if r := a.upload(job.ID, job.Token, "", "a.zip", bytes.NewReader(make([]byte, 1001))); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("streamed upload over the limit = %d %s, want 413", r.status, r.body)
	}
	// Buffered: Content-Length alone says it is too large.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	part, err := mw.CreateFormFile("file", "a.zip")
	if err == nil {
		_, err = part.Write(make([]byte, 2000))
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		t.Fatalf("build multipart body: %v", err)
	}
	r := a.call(http.MethodPost, "/api/v4/jobs/"+itoa(job.ID)+"/artifacts",
		map[string]string{"JOB-TOKEN": job.Token, "Content-Type": mw.FormDataContentType()}, &buf)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("upload with a large Content-Length = %d %s, want 413", r.status, r.body)
	}
	if r := a.upload(job.ID, job.Token, "", "a.zip", bytes.NewReader(make([]byte, 1000))); r.status != http.StatusCreated {
		t.Errorf("upload at the limit = %d %s, want 201", r.status, r.body)
	}
	if rec, _ := s.Job(job.ID); len(rec.Artifacts) != 1 {
		t.Errorf("%d artifacts recorded, want only the one within the limit", len(rec.Artifacts))
	}
}

func TestArtifactRefusals(t *testing.T) {
	s, a := start(t, coordinator.Options{})
	job := runningJob(t, s, a)
	if r := a.upload(job.ID, job.Token, "", "a.zip", strings.NewReader("one")); r.status != http.StatusCreated {
		t.Fatalf("first upload = %d %s", r.status, r.body)
	}
	tests := []struct {
		name  string
		id    int64
		token string
		query string
		want  int
	}{
		{"second archive", job.ID, job.Token, "", http.StatusBadRequest},
		{"unknown format", job.ID, job.Token, "?artifact_format=rar&artifact_type=junit", http.StatusBadRequest},
		{"wrong token", job.ID, "glcbt-wrong", "?artifact_type=junit", http.StatusForbidden},
		{"unknown job", job.ID + 100, job.Token, "?artifact_type=junit", http.StatusNotFound},
	}
	for _, tc := range tests {
		if r := a.upload(tc.id, tc.token, tc.query, "b.zip", strings.NewReader("two")); r.status != tc.want {
			t.Errorf("%s: upload = %d %s, want %d", tc.name, r.status, r.body, tc.want)
		}
	}
	r := a.call(http.MethodPost, "/api/v4/jobs/"+itoa(job.ID)+"/artifacts?artifact_type=junit",
		map[string]string{"JOB-TOKEN": job.Token, "Content-Type": "multipart/form-data; boundary=x"}, strings.NewReader("--x--\r\n"))
	if r.status != http.StatusBadRequest {
		t.Errorf("upload without a file part = %d %s, want 400", r.status, r.body)
	}

	a.put(job.ID, job.Token, map[string]any{"state": "success"})
	if r := a.upload(job.ID, job.Token, "?artifact_type=junit", "c.zip", strings.NewReader("late")); r.status != http.StatusForbidden {
		t.Errorf("upload after success = %d %s, want 403", r.status, r.body)
	}
	if rec, _ := s.Job(job.ID); len(rec.Artifacts) != 1 {
		t.Errorf("%d artifacts recorded, want 1", len(rec.Artifacts))
	}
}

func TestArtifactDownloadAccess(t *testing.T) {
	s, a := start(t, coordinator.Options{})
	build := runningJob(t, s, a)
	a.upload(build.ID, build.Token, "", "out.zip", strings.NewReader("payload"))
	a.put(build.ID, build.Token, map[string]any{"state": "success"})

	token := s.AddRunner(coordinator.RunnerSpec{Tags: []string{"deploy"}})
	s.Enqueue(jobspec.Job{Dependencies: []jobspec.Dependency{{ID: build.ID}}}, []string{"deploy"})
	deploy := a.takeJob(token)
	a.put(deploy.ID, deploy.Token, map[string]any{"state": "running"})
	wantDep := []jobspec.Dependency{{ID: build.ID, Token: build.Token, Name: "build",
		ArtifactsFile: &jobspec.ArtifactsFile{Filename: "out.zip", Size: 7}}}
	if d := cmp.Diff(wantDep, deploy.Dependencies); d != "" {
		t.Errorf("dependencies -want +got:\n%s", d)
	}

	tests := []struct {
		name  string
		id    int64
		token string
		want  int
	}{
		{"the dependency's own token", build.ID, build.Token, http.StatusOK},
		{"a running dependent job's token", build.ID, deploy.Token, http.StatusOK},
		{"a stranger's token", build.ID, "glcbt-nope", http.StatusForbidden},
		{"a job without an archive", deploy.ID, deploy.Token, http.StatusNotFound},
		{"an unknown job", build.ID + 100, build.Token, http.StatusNotFound},
	}
	for _, tc := range tests {
		r := a.download(tc.id, tc.token)
		if r.status != tc.want {
			t.Errorf("%s: download = %d %s, want %d", tc.name, r.status, r.body, tc.want)
		}
		if tc.want == http.StatusOK && string(r.body) != "payload" {
			t.Errorf("%s: download body %q, want payload", tc.name, r.body)
		}
	}
}
