package gitlab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"

	"github.com/kuberunner/kuberunner/jobspec"
)

// maxJobPayload caps a 201 body; real payloads are kilobytes, variables included.
const maxJobPayload = 32 << 20

type jobRequestBody struct {
	Token      string     `json:"token"`
	SystemID   string     `json:"system_id,omitempty"`
	LastUpdate string     `json:"last_update,omitempty"`
	Info       runnerInfo `json:"info"`
}

// RequestJob long-polls POST /jobs/request once; it never retries, since the poll loop owns
// the pace. It returns a nil job on 204 together with X-GitLab-Last-Update to echo next time;
// ErrForbidden on 403, ErrConflict on 409, an ErrTransient error on 5xx or a lost connection.
// A 201 whose payload cannot be read gives a *PayloadError.
func (c *Client) RequestJob(ctx context.Context, rc RunnerCredentials, lastUpdate string) (*jobspec.Job, string, error) {
	r := request{method: http.MethodPost, endpoint: "jobs/request", timeout: c.opts.Timeout + LongPollAllowance, secrets: []string{rc.Token}}
	var err error
	if r.url, err = apiURL(rc.URL, "jobs/request"); err != nil {
		return nil, "", err
	}
	body, err := json.Marshal(jobRequestBody{Token: rc.Token, SystemID: rc.SystemID, LastUpdate: lastUpdate, Info: c.info()})
	if err != nil {
		return nil, "", fmt.Errorf("encode job request: %w", err)
	}
	r.body, r.header = bytes.NewReader(body), jsonHeader("RUNNER-TOKEN", rc.Token)

	var (
		job    *jobspec.Job
		update string
	)
	err = c.exchange(ctx, r, func(resp *http.Response) error {
		update = resp.Header.Get("X-GitLab-Last-Update")
		switch resp.StatusCode {
		case http.StatusCreated:
			var err error
			job, err = decodeJob(rc.URL, resp.Body)
			return err
		case http.StatusNoContent:
			return nil
		case http.StatusConflict:
			return fmt.Errorf("request job: %w", ErrConflict)
		default:
			return answerError(resp, r)
		}
	})
	if err != nil {
		return nil, "", err
	}
	return job, update, nil
}

// PayloadError says a 201 answer carried a job this runner cannot read. The job is already
// assigned to this runner: when its id and token could be read, Job lets the caller fail it
// at once (runner_unsupported) instead of leaving it to time out.
type PayloadError struct {
	Job   *JobCredentials // nil when even id and token were unreadable
	Field string          // JSON path of the offending field, "" when the document is broken
	Err   error
}

func (e *PayloadError) Error() string {
	prefix := "job payload"
	if e.Job != nil {
		prefix = fmt.Sprintf("job %d payload", e.Job.ID)
	}
	if e.Field != "" {
		return fmt.Sprintf("%s: field %q: %v", prefix, e.Field, e.Err)
	}
	return fmt.Sprintf("%s: %v", prefix, e.Err)
}

func (e *PayloadError) Unwrap() error { return e.Err }

func decodeJob(baseURL string, body io.Reader) (*jobspec.Job, error) {
	raw, err := io.ReadAll(io.LimitReader(body, maxJobPayload+1))
	if err != nil {
		return nil, &PayloadError{Err: fmt.Errorf("read: %w", err)}
	}
	if len(raw) > maxJobPayload {
		return nil, &PayloadError{Err: fmt.Errorf("larger than %d bytes", maxJobPayload)}
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, &PayloadError{Err: errors.New("empty body")}
	}
	var job jobspec.Job
	err = json.Unmarshal(raw, &job)
	if err == nil {
		switch {
		case job.ID <= 0:
			err = &PayloadError{Field: "id", Err: errors.New("missing or not positive")}
		case job.Token == "":
			err = &PayloadError{Field: "token", Err: errors.New("missing")}
		default:
			return &job, nil
		}
	}
	var pe *PayloadError
	if !errors.As(err, &pe) {
		pe = describeJSONError(err)
	}
	// The rest may be broken while id and token are fine; read them on their own.
	var ids struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
	}
	if json.Unmarshal(raw, &ids) == nil && ids.ID > 0 && ids.Token != "" {
		pe.Job = &JobCredentials{URL: baseURL, ID: ids.ID, Token: ids.Token}
	}
	return nil, pe
}

// describeJSONError turns encoding/json's message, which speaks of Go types, into one that
// names the wire field. Neither form quotes values, so no secret can leak through it.
func describeJSONError(err error) *PayloadError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field != "":
		return &PayloadError{Field: te.Field, Err: fmt.Errorf("got a JSON %s, want %s", te.Value, kindOf(te.Type))}
	case errors.As(err, &te):
		return &PayloadError{Err: fmt.Errorf("got a JSON %s, want an object", te.Value)}
	case errors.As(err, &se):
		// encoding/json quotes at most one character of the input here.
		return &PayloadError{Err: fmt.Errorf("malformed JSON at byte %d: %v", se.Offset, se)}
	default:
		return &PayloadError{Err: fmt.Errorf("malformed JSON: %w", err)}
	}
}

func kindOf(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	default:
		return "a " + t.Kind().String()
	}
}

type updateJobBody struct {
	Token         string                `json:"token"`
	State         JobState              `json:"state"`
	FailureReason jobspec.FailureReason `json:"failure_reason,omitempty"`
	ExitCode      *int                  `json:"exit_code,omitempty"`
	Output        *traceOutput          `json:"output,omitempty"`
}

type traceOutput struct {
	Checksum string `json:"checksum,omitempty"`
	Bytesize int64  `json:"bytesize"`
}

// UpdateJob sends PUT /jobs/:id once: 200 UpdateAccepted (UpdateCancelRequested or
// UpdateAbort when a keep-alive finds the job canceling or canceled), 202 UpdateTraceNotYet,
// 403/404 UpdateAbort, 409 UpdateConflict. A 5xx or a lost connection is an ErrTransient
// error: retry with Retry and a Backoff; any other status is a *StatusError.
func (c *Client) UpdateJob(ctx context.Context, jc JobCredentials, req UpdateJobRequest) (UpdateJobResult, error) {
	r := request{method: http.MethodPut, endpoint: "jobs/:id", secrets: []string{jc.Token}}
	var err error
	if r.url, err = apiURL(jc.URL, "jobs/"+strconv.FormatInt(jc.ID, 10)); err != nil {
		return 0, err
	}
	b := updateJobBody{Token: jc.Token, State: req.State, FailureReason: req.FailureReason, ExitCode: req.ExitCode}
	if req.Checksum != "" || req.Bytesize > 0 {
		b.Output = &traceOutput{Checksum: req.Checksum, Bytesize: req.Bytesize}
	}
	body, err := json.Marshal(b)
	if err != nil {
		return 0, fmt.Errorf("encode job %d update: %w", jc.ID, err)
	}
	r.body, r.header = bytes.NewReader(body), jsonHeader("JOB-TOKEN", jc.Token)

	var res UpdateJobResult
	err = c.exchange(ctx, r, func(resp *http.Response) error {
		switch resp.StatusCode {
		case http.StatusOK:
			res = runningAnswer(req.State, resp.Header.Get("Job-Status"))
		case http.StatusAccepted:
			res = UpdateTraceNotYet
		case http.StatusForbidden, http.StatusNotFound:
			res = UpdateAbort
		case http.StatusConflict:
			res = UpdateConflict
		default:
			return answerError(resp, r)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("update job %d: %w", jc.ID, err)
	}
	return res, nil
}

// runningAnswer reads Job-Status on a 200. Only a PUT state=running (accept or keep-alive)
// learns of a cancel this way: after a final update the status is the runner's own.
func runningAnswer(sent JobState, jobStatus string) UpdateJobResult {
	if sent != StateRunning {
		return UpdateAccepted
	}
	switch jobStatus {
	case "canceling":
		return UpdateCancelRequested
	case "canceled", "failed":
		return UpdateAbort
	}
	return UpdateAccepted
}
