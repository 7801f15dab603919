package coordinator

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// artifactExtensions are the suffixes a runner gives an archive's filename per format.
var artifactExtensions = map[string]string{"zip": ".zip", "gzip": ".gz", "raw": ""}

// errTooLarge marks an upload over MaxArtifactSize.
var errTooLarge = errors.New("artifact too large")

// handleUpload serves POST /jobs/:id/artifacts: the multipart field "file" is streamed to a
// file under the artifacts directory, never held in memory.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	a := StoredArtifact{
		Format:   defaultString(q.Get("artifact_format"), "zip"),
		Type:     defaultString(q.Get("artifact_type"), "archive"),
		ExpireIn: q.Get("expire_in"),
	}
	if _, ok := artifactExtensions[a.Format]; !ok {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - artifact_format does not have a valid value")
		return
	}
	token := headerOr(r, "JOB-TOKEN", q.Get("token"))
	if !s.checkJobToken(w, id, token) || !s.checkUploadAllowed(w, id, a.Type) {
		return
	}
	if limit := s.opts.MaxArtifactSize; limit > 0 && r.ContentLength > limit {
		writeMessage(w, http.StatusRequestEntityTooLarge, "413 Request Entity Too Large")
		return
	}

	err := s.receiveArtifact(r, id, &a)
	switch {
	case errors.Is(err, errTooLarge):
		writeMessage(w, http.StatusRequestEntityTooLarge, "413 Request Entity Too Large")
		return
	case err != nil:
		writeMessage(w, http.StatusBadRequest, "400 Bad request - "+err.Error())
		return
	}

	var dup bool
	s.mutate(id, func() bool {
		rec := s.state.jobs[id]
		if _, dup = rec.artifactOfType(a.Type); !dup {
			rec.Artifacts = append(rec.Artifacts, a)
		}
		return !dup
	})
	if dup { // a concurrent upload of the same type won
		_ = os.Remove(a.Path)
		writeMessage(w, http.StatusBadRequest, "400 Bad request - another artifact of the same type already exists")
		return
	}
	writeStatus(w, http.StatusCreated)
}

// checkUploadAllowed answers and returns false unless the job is processing on its runner
// and has no artifact of this type yet, which GitLab refuses.
func (s *Server) checkUploadAllowed(w http.ResponseWriter, id int64, typ string) bool {
	s.mu.Lock()
	rec := s.state.jobs[id]
	status := rec.Status
	_, dup := rec.artifactOfType(typ)
	s.mu.Unlock()
	switch {
	case status != StatusRunning && status != StatusCanceling:
		jobForbidden(w, status, "Job is not running")
	case dup:
		writeMessage(w, http.StatusBadRequest, "400 Bad request - another artifact of the same type already exists")
	}
	return (status == StatusRunning || status == StatusCanceling) && !dup
}

// receiveArtifact streams the "file" part of the multipart body to a new file and fills a's
// Filename, Name, Path and Size. Other parts are skipped.
func (s *Server) receiveArtifact(r *http.Request, id int64, a *StoredArtifact) error {
	mr, err := r.MultipartReader()
	if err != nil {
		return fmt.Errorf("read multipart body: %w", err)
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return errors.New("file is missing")
		}
		if err != nil {
			return fmt.Errorf("read multipart body: %w", err)
		}
		if part.FormName() != "file" {
			continue // NextPart discards the rest of this part
		}
		a.Filename = filepath.Base(defaultString(part.FileName(), "artifacts"+artifactExtensions[a.Format]))
		a.Name = strings.TrimSuffix(a.Filename, artifactExtensions[a.Format])
		return s.storeArtifact(part, id, a)
	}
}

// storeArtifact copies body to a new file under the artifacts directory, at most
// MaxArtifactSize bytes; on failure no file is left behind.
func (s *Server) storeArtifact(body io.Reader, id int64, a *StoredArtifact) (err error) {
	f, err := os.CreateTemp(s.artifactsDir, fmt.Sprintf("job-%d-%s-*", id, a.Type))
	if err != nil {
		return fmt.Errorf("store artifact: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("store artifact: %w", cerr)
		}
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	limit := s.opts.MaxArtifactSize
	if limit > 0 {
		body = io.LimitReader(body, limit+1)
	}
	n, err := io.Copy(f, body)
	if err != nil {
		return fmt.Errorf("store artifact: %w", err)
	}
	if limit > 0 && n > limit {
		return errTooLarge
	}
	a.Path, a.Size = f.Name(), n
	return nil
}

// handleDownload serves GET /jobs/:id/artifacts: the job's archive, to the job itself or to
// a running job that depends on it.
func (s *Server) handleDownload(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	token := headerOr(r, "JOB-TOKEN", r.URL.Query().Get("token"))
	s.mu.Lock()
	rec, found := s.state.jobs[id]
	allowed := found && s.state.mayDownload(id, token)
	var a StoredArtifact
	var has bool
	if allowed {
		a, has = rec.artifactOfType("archive")
	}
	s.mu.Unlock()
	switch {
	case !found:
		writeMessage(w, http.StatusNotFound, "404 Not Found")
		return
	case !allowed:
		writeMessage(w, http.StatusForbidden, "403 Forbidden")
		return
	case !has:
		writeMessage(w, http.StatusNotFound, "404 Not Found")
		return
	}
	f, err := os.Open(a.Path)
	if err != nil {
		writeMessage(w, http.StatusNotFound, "404 Not Found")
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Filename}))
	http.ServeContent(w, r, a.Filename, time.Time{}, f)
}

// artifactOfType returns the job's artifact of that type; "archive" is the one dependencies
// download.
func (r *JobRecord) artifactOfType(typ string) (StoredArtifact, bool) {
	for _, a := range r.Artifacts {
		if a.Type == typ {
			return a, true
		}
	}
	return StoredArtifact{}, false
}

func defaultString(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
