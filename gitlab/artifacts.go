package gitlab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
)

// maxUploadRedirects bounds 307/308 hops of one upload.
const maxUploadRedirects = 5

// UploadArtifacts streams body as the multipart field "file" of POST /jobs/:id/artifacts:
// the archive goes through an io.Pipe and is never held in memory. 201 is success, 413
// ErrTooLarge, 403 ErrForbidden, 5xx an ErrTransient error.
//
// A 307/308 answer asks to post again elsewhere; that needs the archive from its start, so
// it is followed only when body is an io.Seeker (an *os.File is): body is rewound to where it
// stood when UploadArtifacts was called. A non-seekable body gets an error instead. The job
// token is sent to the new location only when it has the same origin as jc.URL.
//
// Options.Timeout is an inactivity limit here, not a total: an archive of any size may take
// as long as it needs while bytes keep moving.
func (c *Client) UploadArtifacts(ctx context.Context, jc JobCredentials, opts ArtifactsOptions, body io.Reader) error {
	target, err := apiURL(jc.URL, "jobs/"+strconv.FormatInt(jc.ID, 10)+"/artifacts")
	if err != nil {
		return err
	}
	if q := artifactsQuery(opts).Encode(); q != "" {
		target += "?" + q
	}
	origin, _ := url.Parse(target)
	seeker, _ := body.(io.Seeker)
	var start int64
	if seeker != nil {
		if start, err = seeker.Seek(0, io.SeekCurrent); err != nil {
			seeker = nil // a pipe or socket posing as a Seeker; treat it as a stream
		}
	}

	for hop := 0; ; hop++ {
		if hop > 0 {
			if seeker == nil {
				return fmt.Errorf("upload artifacts of job %d: redirected, but the archive is a stream and cannot be sent again", jc.ID)
			}
			if _, err := seeker.Seek(start, io.SeekStart); err != nil {
				return fmt.Errorf("upload artifacts of job %d: rewind for redirect: %w", jc.ID, err)
			}
		}
		next, err := c.uploadOnce(ctx, jc, origin, target, opts, body)
		if err != nil {
			return fmt.Errorf("upload artifacts of job %d: %w", jc.ID, err)
		}
		if next == "" {
			return nil
		}
		if hop >= maxUploadRedirects {
			return fmt.Errorf("upload artifacts of job %d: more than %d redirects", jc.ID, maxUploadRedirects)
		}
		target = next
	}
}

func artifactsQuery(o ArtifactsOptions) url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"artifact_format": o.Format, "artifact_type": o.Type, "expire_in": o.ExpireIn} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

func artifactsFilename(o ArtifactsOptions) string {
	switch {
	case o.Filename != "":
		return o.Filename
	case o.Format == "gzip":
		return "artifacts.gz"
	case o.Format == "raw":
		return "artifacts"
	default:
		return "artifacts.zip"
	}
}

// uploadOnce posts the archive to target. It returns the Location to post to again on
// 307/308, "" on success.
func (c *Client) uploadOnce(ctx context.Context, jc JobCredentials, origin *url.URL, target string, opts ArtifactsOptions, body io.Reader) (string, error) {
	wctx, dog := newWatchdog(ctx, c.opts.Timeout)
	defer dog.stop()

	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	src := &sourceReader{r: body}
	written := make(chan struct{})
	go func() {
		defer close(written)
		// nil closes with EOF, ending the request body; an error aborts the request.
		pw.CloseWithError(writeMultipart(mw, artifactsFilename(opts), dog.reader(src)))
	}()

	r := request{method: http.MethodPost, endpoint: "jobs/:id/artifacts", url: target, body: pr, timeout: noTimeout, header: http.Header{}, secrets: []string{jc.Token}}
	r.header.Set("Content-Type", mw.FormDataContentType())
	r.header.Set("Accept", "application/json")
	if u, err := url.Parse(target); err == nil && sameOrigin(u, origin) {
		r.header.Set("JOB-TOKEN", jc.Token)
	}
	var next string
	err := c.exchange(wctx, r, func(resp *http.Response) error {
		switch resp.StatusCode {
		case http.StatusCreated, http.StatusOK:
			return nil
		case http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
			loc, err := resp.Location()
			if err != nil {
				return fmt.Errorf("redirect %d without a usable Location", resp.StatusCode)
			}
			next = loc.String()
			return nil
		case http.StatusRequestEntityTooLarge:
			se := statusError(resp, r)
			return fmt.Errorf("%w: %s", ErrTooLarge, se.Body)
		default:
			return answerError(resp, r)
		}
	})
	// The server may answer (413) before reading everything: stop the writer and wait for it,
	// so no goroutine outlives the call and body is no longer read once we return.
	pr.CloseWithError(errors.New("upload finished"))
	<-written
	if src.err != nil {
		// A local read failure, not the coordinator's: say so rather than "connection lost".
		return "", fmt.Errorf("read archive: %w", src.err)
	}
	return next, dog.explain(ctx, err)
}

// sourceReader remembers a read error of the archive itself, to tell it from network errors.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

func writeMultipart(mw *multipart.Writer, filename string, body io.Reader) error {
	part, err := mw.CreateFormFile("file", filename)
	if err != nil {
		return err
	}
	if _, err := io.Copy(part, body); err != nil {
		return err
	}
	return mw.Close()
}

// DownloadArtifacts writes the archive of job jc (a dependency: its own id and token) to w
// from GET /jobs/:id/artifacts, following 302/307 to object storage without the job token.
// 404 is ErrNotFound, 401/403 ErrForbidden, 5xx an ErrTransient error. As for uploads,
// Options.Timeout is an inactivity limit. On error w may hold a partial archive.
func (c *Client) DownloadArtifacts(ctx context.Context, jc JobCredentials, w io.Writer) error {
	target, err := apiURL(jc.URL, "jobs/"+strconv.FormatInt(jc.ID, 10)+"/artifacts")
	if err != nil {
		return err
	}
	origin, _ := url.Parse(target)
	wctx, dog := newWatchdog(ctx, c.opts.Timeout)
	defer dog.stop()
	r := request{method: http.MethodGet, endpoint: "jobs/:id/artifacts", url: target, timeout: noTimeout, header: http.Header{}, secrets: []string{jc.Token}}
	r.header.Set("JOB-TOKEN", jc.Token)
	err = c.exchange(wctx, r, func(resp *http.Response) error {
		switch resp.StatusCode {
		case http.StatusOK:
			dog.kick()
			if _, err := io.Copy(w, dog.reader(resp.Body)); err != nil {
				return fmt.Errorf("receive archive: %w", err)
			}
			return nil
		case http.StatusForbidden, http.StatusUnauthorized:
			if !sameOrigin(resp.Request.URL, origin) {
				// Object storage refused its signed URL: not a matter of the job token.
				return statusError(resp, r)
			}
			return answerError(resp, r)
		default:
			return answerError(resp, r)
		}
	})
	if err = dog.explain(ctx, err); err != nil {
		return fmt.Errorf("download artifacts of job %d: %w", jc.ID, err)
	}
	return nil
}
