package gitlab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxTracePatchSize is the most PatchTrace sends at once, as gitlab-runner does: GitLab
// buffers each patch in memory and rejects very large ones.
const MaxTracePatchSize = 1 << 20

// ErrPatchTooLarge refuses a PatchTrace call with more than MaxTracePatchSize bytes.
var ErrPatchTooLarge = errors.New("trace patch larger than MaxTracePatchSize")

// PatchTrace sends PATCH /jobs/:id/trace once with data starting at offset. 202 gives the
// new trace length and the server's wishes (Job-Status, update interval); 416 gives
// RangeMismatch and the length the server has; 403 or 404, or Job-Status canceled/failed,
// set Abort. A 5xx or a lost connection is an ErrTransient error.
func (c *Client) PatchTrace(ctx context.Context, jc JobCredentials, offset int64, data []byte) (PatchTraceResult, error) {
	if len(data) > MaxTracePatchSize {
		return PatchTraceResult{}, fmt.Errorf("patch trace of job %d: %d bytes: %w", jc.ID, len(data), ErrPatchTooLarge)
	}
	if offset < 0 {
		return PatchTraceResult{}, fmt.Errorf("patch trace of job %d: negative offset %d", jc.ID, offset)
	}
	r := request{method: http.MethodPatch, endpoint: "jobs/:id/trace", secrets: []string{jc.Token}}
	var err error
	if r.url, err = apiURL(jc.URL, "jobs/"+strconv.FormatInt(jc.ID, 10)+"/trace"); err != nil {
		return PatchTraceResult{}, err
	}
	r.header = http.Header{}
	r.header.Set("JOB-TOKEN", jc.Token)
	r.header.Set("Content-Type", "text/plain")
	// Inclusive bounds, no unit: GitLab's own format. An empty patch yields "n-(n-1)", which
	// GitLab accepts and answers with the job's status, like gitlab-runner's.
	r.header.Set("Content-Range", fmt.Sprintf("%d-%d", offset, offset+int64(len(data))-1))
	r.body = bytes.NewReader(data)

	var res PatchTraceResult
	err = c.exchange(ctx, r, func(resp *http.Response) error {
		res.JobStatus = resp.Header.Get("Job-Status")
		res.UpdateInterval = updateInterval(resp.Header)
		switch resp.StatusCode {
		case http.StatusAccepted:
			res.SentOffset = offset + int64(len(data))
			if end, ok := rangeEnd(resp.Header.Get("Range")); ok {
				res.SentOffset = end
			}
			res.Abort = res.JobStatus == "canceled" || res.JobStatus == "failed"
		case http.StatusRequestedRangeNotSatisfiable:
			end, ok := rangeEnd(resp.Header.Get("Range"))
			if !ok {
				return fmt.Errorf("PATCH jobs/:id/trace: 416 without a usable Range header (%q)", resp.Header.Get("Range"))
			}
			res.RangeMismatch, res.SentOffset = true, end
		case http.StatusForbidden, http.StatusNotFound:
			res.Abort = true
		default:
			return answerError(resp, r)
		}
		return nil
	})
	if err != nil {
		return PatchTraceResult{}, fmt.Errorf("patch trace of job %d: %w", jc.ID, err)
	}
	return res, nil
}

// rangeEnd reads GitLab's "Range: 0-<length>" answer; the number after the dash is the
// trace length on the server, that is the offset of the next byte.
func rangeEnd(h string) (int64, bool) {
	h = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(h), "bytes="))
	_, end, ok := strings.Cut(h, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(end), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

func updateInterval(h http.Header) time.Duration {
	s, err := strconv.Atoi(strings.TrimSpace(h.Get("X-GitLab-Trace-Update-Interval")))
	if err != nil || s <= 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}
