package step

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
	resp.Body.Close()
	return nil, fmt.Errorf("cache server: %s", resp.Status)
}

func (s HTTPStore) Put(ctx context.Context, key string, r io.Reader) error {
	resp, err := s.request(ctx, http.MethodPut, key, r)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("cache server: %s", resp.Status)
	}
	return nil
}
