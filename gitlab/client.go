package gitlab

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// DefaultTimeout bounds one request when Options.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// LongPollAllowance is added to Options.Timeout for POST /jobs/request: GitLab's front proxy
// holds that request open (typically up to 50 s) until the runner's queue changes.
const LongPollAllowance = 60 * time.Second

// Options configure a Client. The zero value works against a server with a public certificate.
type Options struct {
	Version, Revision string        // User-Agent: kuberunner/<version>
	CAFile            string        // extra PEM roots for TLS, trusted in addition to the system's
	Timeout           time.Duration // per request; RequestJob adds LongPollAllowance
	// Observer is called once per HTTP exchange with a low-cardinality endpoint name such as
	// "jobs/:id/trace"; status is 0 when no answer arrived. May be nil.
	Observer func(endpoint, method string, status int, d time.Duration)
	Features Features // announced in jobs/request info.features
	Executor string   // info.executor, e.g. "kubernetes"
	Shell    string   // info.shell, e.g. "bash"
}

// Client talks to any number of GitLab instances (each call names its URL). It is safe for
// concurrent use; one Client per process is enough.
type Client struct {
	opts      Options
	http      *http.Client
	userAgent string
}

// tokenHeaders are the headers that carry credentials; they never follow a redirect to
// another host (object storage must not learn a job token).
var tokenHeaders = []string{"JOB-TOKEN", "RUNNER-TOKEN", "PRIVATE-TOKEN", "Authorization"}

// New builds a Client. It fails only when CAFile cannot be read or holds no certificate.
func New(opts Options) (*Client, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if opts.CAFile != "" {
		pool, err := loadCAFile(opts.CAFile)
		if err != nil {
			return nil, err
		}
		tlsConf.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConf
	// Several pollers per runner keep long-polls open at once; keep their connections.
	tr.MaxIdleConnsPerHost = 32
	return &Client{
		opts: opts,
		http: &http.Client{
			Transport:     tr,
			CheckRedirect: keepTokensOnSameOrigin,
		},
		userAgent: "kuberunner/" + opts.Version,
	}, nil
}

func loadCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s: no PEM certificate found", path)
	}
	return pool, nil
}

// keepTokensOnSameOrigin follows up to 10 redirects and keeps credentials within the origin
// of the first request. Go's own rule only protects Authorization and Cookie, not GitLab's
// JOB-TOKEN, so object storage would otherwise learn a job token. A request with a body is
// not followed off-origin at all: its JSON body carries the token too.
func keepTokensOnSameOrigin(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if sameOrigin(req.URL, via[0].URL) {
		return nil
	}
	if m := via[0].Method; m != http.MethodGet && m != http.MethodHead {
		return http.ErrUseLastResponse
	}
	for _, h := range tokenHeaders {
		req.Header.Del(h)
	}
	return nil
}

// sameOrigin reports whether next may receive credentials meant for orig: same host and
// port, and the same scheme or an upgrade from http to https.
func sameOrigin(next, orig *url.URL) bool {
	if next.Hostname() != orig.Hostname() {
		return false
	}
	switch {
	case next.Scheme == orig.Scheme:
		return next.Port() == orig.Port()
	case orig.Scheme == "http" && next.Scheme == "https":
		return next.Port() == "" || next.Port() == "443"
	default:
		return false
	}
}

// apiURL joins GitLab's base URL and an /api/v4 path. A base that already ends in /api/v4
// is accepted as well, since operators paste either.
func apiURL(base, path string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("GitLab URL %q: want http(s)://host[/path]", redactURL(base))
	}
	u.User = nil
	u.RawQuery, u.Fragment = "", ""
	p := strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/api/v4")
	u.Path, u.RawPath = p+"/api/v4/"+path, ""
	return u.String(), nil
}

// redactURL strips a password from a URL an operator typed, for error messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable URL>"
	}
	return u.Redacted()
}

// noTimeout marks a request bounded by a watchdog instead of a total deadline.
const noTimeout time.Duration = -1

// request is one HTTP exchange with the coordinator.
type request struct {
	method   string
	endpoint string // label for errors and the observer: "jobs/:id/trace"
	url      string
	header   http.Header
	body     io.Reader
	timeout  time.Duration // 0: the client's; noTimeout: none (a watchdog bounds streams)
	secrets  []string      // redacted from any answer body quoted in an error
}

// exchange sends r under its timeout and lets handle read the answer before the deadline is
// released, so reading the body is bounded too. Transport failures come back as ErrTransient
// errors unless the caller's own context ended.
func (c *Client) exchange(ctx context.Context, r request, handle func(*http.Response) error) error {
	timeout := r.timeout
	if timeout == 0 {
		timeout = c.opts.Timeout
	}
	rctx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		rctx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, r.method, r.url, r.body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", r.method, r.endpoint, err)
	}
	for k, vs := range r.header {
		for _, v := range vs {
			req.Header.Add(k, v) // canonicalises the name, so redirects can strip it
		}
	}
	req.Header.Set("User-Agent", c.userAgent)

	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.observe(r.endpoint, r.method, 0, start)
		return transportError(ctx, r.method, r.endpoint, err)
	}
	defer resp.Body.Close()
	herr := handle(resp)
	c.observe(r.endpoint, r.method, resp.StatusCode, start)
	if herr != nil && rctx.Err() != nil && ctx.Err() == nil {
		// The per-request deadline cut the body short: as retryable as a dropped connection.
		return fmt.Errorf("%s %s: %w: %w", r.method, r.endpoint, ErrTransient, herr)
	}
	return herr
}

func (c *Client) observe(endpoint, method string, status int, start time.Time) {
	if c.opts.Observer != nil {
		c.opts.Observer(endpoint, method, status, time.Since(start))
	}
}

// transportError classifies a failure to get an answer. When the caller's context ended the
// error says so and is not transient: the caller chose to stop.
func transportError(ctx context.Context, method, endpoint string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s %s: %w", method, endpoint, context.Cause(ctx))
	}
	return fmt.Errorf("%s %s: %w: %w", method, endpoint, ErrTransient, err)
}

// answerError is the one mapping of an answer a call has no meaning of its own for: 401 and
// 403 wrap ErrForbidden and 404 ErrNotFound, naming the server that answered; any other
// status is a *StatusError (5xx and 429 match ErrTransient).
func answerError(resp *http.Response, r request) error {
	switch resp.StatusCode {
	case http.StatusForbidden, http.StatusUnauthorized:
		return fmt.Errorf("%s %s at %s: %w", r.method, r.endpoint, originOf(resp.Request.URL), ErrForbidden)
	case http.StatusNotFound:
		return fmt.Errorf("%s %s at %s: %w", r.method, r.endpoint, originOf(resp.Request.URL), ErrNotFound)
	}
	return statusError(resp, r)
}

// originOf is scheme://host[:port] of u: it names a server without a path or query that may
// carry a signature (object storage) or a password.
func originOf(u *url.URL) string { return u.Scheme + "://" + u.Host }

// statusError reads the first bytes of an unexpected answer, with secrets redacted.
func statusError(resp *http.Response, r request) *StatusError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return &StatusError{Method: r.method, Endpoint: r.endpoint, Code: resp.StatusCode, Body: redact(string(b), r.secrets...)}
}

// redact replaces every non-empty secret in s.
func redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[MASKED]")
		}
	}
	return strings.TrimSpace(s)
}

func jsonHeader(tokenHeader, token string) http.Header {
	h := http.Header{}
	h.Set("Accept", "application/json")
	h.Set("Content-Type", "application/json")
	h.Set(tokenHeader, token)
	return h
}
