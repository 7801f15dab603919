package agent

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// HTTPStore is a Store behind an HTTP server: GET and PUT of <URL>/<escaped key>, with the
// job token as JOB-TOKEN, as the job's other calls to its coordinator. Local pipelines
// serve one, so a cache works with no volume on the cluster.
type HTTPStore struct {
	URL    string
	Token  string
	Client *http.Client // nil: http.DefaultClient
}

func (s HTTPStore) request(ctx context.Context, method, key string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(s.URL, "/")+"/"+url.PathEscape(key), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("JOB-TOKEN", s.Token)
	c := s.Client
	if c == nil {
		c = http.DefaultClient
	}
	return c.Do(req)
}

func (s HTTPStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	resp, err := s.request(ctx, http.MethodGet, key, nil)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return resp.Body, nil
	case http.StatusNotFound:
		resp.Body.Close()
		return nil, ErrCacheMiss
	}
	return nil, statusError(resp)
}

func (s HTTPStore) Put(ctx context.Context, key string, r io.Reader) error {
	resp, err := s.request(ctx, http.MethodPut, key, r)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return statusError(resp)
	}
	resp.Body.Close()
	return nil
}

// statusError is a refusal with the server's reason ("a running job's token is required"),
// which the status alone does not give.
func statusError(resp *http.Response) error {
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if m := strings.TrimSpace(string(msg)); m != "" {
		return fmt.Errorf("cache server: %s: %s", resp.Status, m)
	}
	return fmt.Errorf("cache server: %s", resp.Status)
}
