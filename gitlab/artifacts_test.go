package gitlab

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// filePart returns the name, filename and content of the single multipart part in body.
func filePart(t *testing.T, header http.Header, body []byte) (field, filename, content string) {
	t.Helper()
	_, params, err := mime.ParseMediaType(header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	part, err := mr.NextPart()
	if err != nil {
		t.Fatalf("no multipart part: %v", err)
	}
	b, err := io.ReadAll(part)
	if err != nil {
		t.Fatalf("read part: %v", err)
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Errorf("more than one part (err %v)", err)
	}
	return part.FormName(), part.FileName(), string(b)
}

func TestUploadArtifactsRequest(t *testing.T) {
	srv, rec := newServer(t, answer(http.StatusCreated, "{}"))
	opts := ArtifactsOptions{Format: "zip", Type: "archive", ExpireIn: "1 week"}
	err := newClient(t).UploadArtifacts(context.Background(), JobCredentials{URL: srv.URL, ID: 5, Token: jobToken}, opts, strings.NewReader("PK-archive"))
	if err != nil {
		t.Fatalf("UploadArtifacts: %v", err)
	}
	got := rec.last(t)
	if got.Method != http.MethodPost || got.Path != "/api/v4/jobs/5/artifacts" {
		t.Errorf("request = %s %s", got.Method, got.Path)
	}
	if want := "artifact_format=zip&artifact_type=archive&expire_in=1+week"; got.RawQuery != want {
		t.Errorf("query = %q, want %q", got.RawQuery, want)
	}
	if got.Header.Get("Job-Token") != jobToken || got.Header.Get("User-Agent") != "kuberunner/1.2.3" {
		t.Errorf("headers = %v", got.Header)
	}
	field, filename, content := filePart(t, got.Header, got.Body)
	if d := cmp.Diff([]string{"file", "artifacts.zip", "PK-archive"}, []string{field, filename, content}); d != "" {
		t.Errorf("part -want +got:\n%s", d)
	}
}

func TestUploadArtifactsStatuses(t *testing.T) {
	tests := []struct {
		status  int
		wantErr error
	}{
		{http.StatusCreated, nil},
		{http.StatusRequestEntityTooLarge, ErrTooLarge},
		{http.StatusForbidden, ErrForbidden},
		{http.StatusServiceUnavailable, ErrTransient},
		{http.StatusBadGateway, ErrTransient},
	}
	for _, tc := range tests {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			srv, _ := newServer(t, answer(tc.status, `{"message":"`+jobToken+`"}`))
			err := newClient(t).UploadArtifacts(context.Background(), JobCredentials{URL: srv.URL, ID: 5, Token: jobToken}, ArtifactsOptions{}, strings.NewReader("x"))
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			checkNoSecret(t, err)
		})
	}
}

func TestUploadArtifactsRedirects(t *testing.T) {
	other, otherRec := newServer(t, answer(http.StatusCreated, ""))
	tests := []struct {
		name      string
		location  func(self string) string
		wantToken bool
	}{
		{"same origin keeps the token", func(self string) string { return "/elsewhere/upload?via=307" }, true},
		{"other host gets no token", func(string) string { return other.URL + "/upload" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var srv *httptest.Server
			srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
				if strings.HasSuffix(r.URL.Path, "/artifacts") {
					w.Header().Set("Location", tc.location(srv.URL))
					w.WriteHeader(http.StatusTemporaryRedirect)
					return
				}
				w.WriteHeader(http.StatusCreated)
			})
			archive := bytes.NewReader([]byte("..PK-archive"))
			archive.Seek(2, io.SeekStart) // the caller's start position is what gets re-sent
			err := newClient(t).UploadArtifacts(context.Background(), JobCredentials{URL: srv.URL, ID: 5, Token: jobToken}, ArtifactsOptions{}, archive)
			if err != nil {
				t.Fatalf("UploadArtifacts: %v", err)
			}
			final := rec.last(t)
			if !tc.wantToken {
				final = otherRec.last(t)
			}
			if _, _, content := filePart(t, final.Header, final.Body); content != "PK-archive" {
				t.Errorf("re-posted content = %q, want %q", content, "PK-archive")
			}
			if got := final.Header.Get("Job-Token") != ""; got != tc.wantToken {
				t.Errorf("JOB-TOKEN sent after redirect: %v, want %v", got, tc.wantToken)
			}
		})
	}
}

func TestUploadArtifactsRedirectNeedsSeekableBody(t *testing.T) {
	srv, _ := newServer(t, answer(http.StatusTemporaryRedirect, "", "Location", "/again"))
	stream := io.MultiReader(strings.NewReader("PK-archive"))
	err := newClient(t).UploadArtifacts(context.Background(), JobCredentials{URL: srv.URL, ID: 5, Token: jobToken}, ArtifactsOptions{}, stream)
	if err == nil || !strings.Contains(err.Error(), "cannot be sent again") {
		t.Errorf("err = %v, want a refusal to re-send a stream", err)
	}
}

func TestUploadArtifactsSourceError(t *testing.T) {
	srv, _ := newServer(t, answer(http.StatusCreated, ""))
	diskErr := errors.New("disk gone")
	body := io.MultiReader(strings.NewReader("PK"), iotest.ErrReader(diskErr))
	err := newClient(t).UploadArtifacts(context.Background(), JobCredentials{URL: srv.URL, ID: 5, Token: jobToken}, ArtifactsOptions{}, body)
	if !errors.Is(err, diskErr) || errors.Is(err, ErrTransient) {
		t.Errorf("err = %v, want the archive's read error, not a transient one", err)
	}
}

// patternReader yields size bytes of a fixed pattern. After gateAt bytes it waits until the
// server has received data: a client that buffered the whole body before sending would
// never get past that point.
type patternReader struct {
	n, size, gateAt int64
	gate            <-chan struct{}
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.n >= p.size {
		return 0, io.EOF
	}
	if p.gate != nil && p.n >= p.gateAt {
		select {
		case <-p.gate:
			p.gate = nil
		case <-time.After(30 * time.Second):
			return 0, errors.New("the server received nothing while the client had produced the gate's worth: not streamed")
		}
	}
	k := int(min(int64(len(b)), p.size-p.n))
	for i := range b[:k] {
		b[i] = byte((p.n + int64(i)) % 251)
	}
	p.n += int64(k)
	return k, nil
}

func TestUploadArtifactsStreams64MB(t *testing.T) {
	const size = 64 << 20
	received := make(chan struct{})
	type result struct {
		n   int64
		crc uint32
		err error
	}
	results := make(chan result, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mr, err := r.MultipartReader()
		if err != nil {
			results <- result{err: err}
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		part, err := mr.NextPart()
		if err != nil {
			results <- result{err: err}
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h := crc32.NewIEEE()
		n, err := io.CopyN(h, part, 1<<20)
		close(received)
		if err == nil {
			var m int64
			m, err = io.Copy(h, part)
			n += m
		}
		results <- result{n, h.Sum32(), err}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()

	want := crc32.NewIEEE()
	if _, err := io.Copy(want, &patternReader{size: size}); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	body := &patternReader{size: size, gateAt: 8 << 20, gate: received}
	err := newClient(t).UploadArtifacts(context.Background(), JobCredentials{URL: srv.URL, ID: 5, Token: jobToken}, ArtifactsOptions{}, body)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("UploadArtifacts: %v", err)
	}
	got := <-results
	if got.err != nil || got.n != size || got.crc != want.Sum32() {
		t.Errorf("server received %d bytes, crc %08x, err %v; want %d bytes, crc %08x", got.n, got.crc, got.err, size, want.Sum32())
	}
	// Everything allocated during the upload, server side included, stays far below the archive.
	t.Logf("allocated %d KiB", (after.TotalAlloc-before.TotalAlloc)>>10)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("allocated %d MiB while uploading 64 MiB: the archive was buffered", alloc>>20)
	}
}

func TestUploadArtifactsStallIsTransient(t *testing.T) {
	srv, _ := newServer(t, func(_ http.ResponseWriter, r *http.Request, _ []byte) {
		<-r.Context().Done() // read everything, never answer
	})
	c := newClient(t, func(o *Options) { o.Timeout = 100 * time.Millisecond })
	err := c.UploadArtifacts(context.Background(), JobCredentials{URL: srv.URL, ID: 5, Token: jobToken}, ArtifactsOptions{}, strings.NewReader("x"))
	if !errors.Is(err, ErrTransient) {
		t.Errorf("err = %v, want ErrTransient after no progress", err)
	}
}

func TestDownloadArtifacts(t *testing.T) {
	storage, storageRec := newServer(t, answer(http.StatusOK, "from-object-storage"))
	tests := []struct {
		name        string
		handler     func(http.ResponseWriter, *http.Request, []byte)
		want        string
		wantErr     error
		wantStorage bool // the archive came from the other host, which must not see the token
	}{
		{name: "200", handler: answer(http.StatusOK, "PK-direct"), want: "PK-direct"},
		{
			name: "302 to object storage",
			handler: func(w http.ResponseWriter, r *http.Request, _ []byte) {
				http.Redirect(w, r, storage.URL+"/bucket/obj?X-Amz-Signature=s", http.StatusFound)
			},
			want: "from-object-storage", wantStorage: true,
		},
		{
			name: "307 same origin",
			handler: func(w http.ResponseWriter, r *http.Request, _ []byte) {
				if r.URL.Path == "/moved" {
					if r.Header.Get("Job-Token") != jobToken {
						w.WriteHeader(http.StatusUnauthorized)
						return
					}
					io.WriteString(w, "PK-moved")
					return
				}
				http.Redirect(w, r, "/moved", http.StatusTemporaryRedirect)
			},
			want: "PK-moved",
		},
		{name: "404", handler: answer(http.StatusNotFound, ""), wantErr: ErrNotFound},
		{name: "403", handler: answer(http.StatusForbidden, ""), wantErr: ErrForbidden},
		{name: "500", handler: answer(http.StatusInternalServerError, jobToken), wantErr: ErrTransient},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, rec := newServer(t, tc.handler)
			before := len(storageRec.all())
			var out bytes.Buffer
			err := newClient(t).DownloadArtifacts(context.Background(), JobCredentials{URL: srv.URL, ID: 7, Token: jobToken}, &out)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			checkNoSecret(t, err)
			if tc.wantErr == nil && out.String() != tc.want {
				t.Errorf("archive = %q, want %q", out.String(), tc.want)
			}
			first := rec.all()[0]
			if first.Method != http.MethodGet || first.Path != "/api/v4/jobs/7/artifacts" || first.Header.Get("Job-Token") != jobToken {
				t.Errorf("first request = %s %s token %q", first.Method, first.Path, first.Header.Get("Job-Token"))
			}
			if tc.wantStorage {
				got := storageRec.all()
				if len(got) != before+1 {
					t.Fatalf("object storage saw %d requests, want 1", len(got)-before)
				}
				if tok := got[len(got)-1].Header.Get("Job-Token"); tok != "" {
					t.Errorf("object storage received the job token")
				}
			}
		})
	}
}

func TestDownloadArtifactsObjectStorageRefusal(t *testing.T) {
	storage, _ := newServer(t, answer(http.StatusForbidden, "<Error>SignatureDoesNotMatch</Error>"))
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		http.Redirect(w, r, storage.URL+"/bucket/obj", http.StatusFound)
	})
	err := newClient(t).DownloadArtifacts(context.Background(), JobCredentials{URL: srv.URL, ID: 7, Token: jobToken}, nopWriter{})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusForbidden || errors.Is(err, ErrForbidden) {
		t.Errorf("err = %v, want a *StatusError 403 that does not blame the job token", err)
	}
}

func TestDownloadArtifactsStallIsTransient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "PK-partial")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()
	c := newClient(t, func(o *Options) { o.Timeout = 100 * time.Millisecond })
	var out bytes.Buffer
	err := c.DownloadArtifacts(context.Background(), JobCredentials{URL: srv.URL, ID: 7, Token: jobToken}, &out)
	if !errors.Is(err, ErrTransient) {
		t.Errorf("err = %v, want ErrTransient after the body stalled", err)
	}
	if out.String() != "PK-partial" {
		t.Errorf("received %q before the stall, want %q", out.String(), "PK-partial")
	}
}
