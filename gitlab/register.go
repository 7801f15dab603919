package gitlab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	retryablehttp "github.com/hashicorp/go-retryablehttp"
	gl "gitlab.com/gitlab-org/api/client-go/v2"
)

// ErrInvalidOptions says a registration request contradicts itself; nothing was sent.
var ErrInvalidOptions = errors.New("invalid registration options")

// AuthTokenPrefix starts the authentication tokens of GitLab 16's runner creation flow.
const AuthTokenPrefix = "glrt-"

// RegisterOptions describe a registration. With a glrt- token the runner's settings live in
// GitLab (set when the token was created), so only Token and SystemID are used.
type RegisterOptions struct {
	Token          string // registration token (legacy) or glrt- authentication token
	Description    string
	Tags           []string
	RunUntagged    bool
	Locked         bool
	Paused         bool
	AccessLevel    string // not_protected | ref_protected
	MaximumTimeout int    // seconds, 0 for none
	SystemID       string
}

// Registration is what GitLab answered: the runner's id and its authentication token.
type Registration struct {
	ID             int64 // 0 when the server did not say (older verify, reset)
	Token          string
	TokenExpiresAt time.Time // zero: never expires
}

// Register registers a runner with GitLab at url. A glrt- token was created in GitLab
// already, so it is only verified (and combining it with runner settings is refused with
// ErrInvalidOptions); any other token goes through the legacy POST /runners.
// An invalid token gives an error wrapping ErrForbidden.
func (c *Client) Register(ctx context.Context, url string, o RegisterOptions) (Registration, error) {
	if strings.HasPrefix(o.Token, AuthTokenPrefix) {
		var set []string
		for _, f := range []struct {
			name string
			on   bool
		}{
			{"tags", len(o.Tags) > 0}, {"run-untagged", o.RunUntagged}, {"locked", o.Locked},
			{"paused", o.Paused}, {"access-level", o.AccessLevel != ""}, {"maximum-timeout", o.MaximumTimeout > 0},
		} {
			if f.on {
				set = append(set, f.name)
			}
		}
		if len(set) > 0 {
			return Registration{}, fmt.Errorf("%w: %s cannot be set with a %s authentication token: set them on the runner in GitLab",
				ErrInvalidOptions, strings.Join(set, ", "), AuthTokenPrefix)
		}
		return c.Verify(ctx, url, o.Token, o.SystemID)
	}

	info := c.info()
	opt := &gl.RegisterNewRunnerOptions{
		Token:       gl.Ptr(o.Token),
		Description: gl.Ptr(o.Description),
		Info: &gl.RegisterNewRunnerInfoOptions{
			Name: gl.Ptr(info.Name), Version: gl.Ptr(info.Version), Revision: gl.Ptr(info.Revision),
			Platform: gl.Ptr(info.Platform), Architecture: gl.Ptr(info.Architecture),
		},
		Paused: gl.Ptr(o.Paused),
		Locked: gl.Ptr(o.Locked),
		// A runner with no tags that refuses untagged jobs could never get one.
		RunUntagged: gl.Ptr(o.RunUntagged || len(o.Tags) == 0),
	}
	if len(o.Tags) > 0 {
		opt.TagList = gl.Ptr(o.Tags)
	}
	if o.AccessLevel != "" {
		opt.AccessLevel = gl.Ptr(o.AccessLevel)
	}
	if o.MaximumTimeout > 0 {
		opt.MaximumTimeout = gl.Ptr(int64(o.MaximumTimeout))
	}
	var runner *gl.Runner
	err := c.withGitLab(ctx, url, "runners", http.MethodPost, o.Token, func(api *gl.Client, ro []gl.RequestOptionFunc) (*gl.Response, error) {
		var resp *gl.Response
		var err error
		runner, resp, err = api.Runners.RegisterNewRunner(opt, ro...)
		return resp, err
	})
	if err != nil {
		return Registration{}, fmt.Errorf("register runner: %w", err)
	}
	reg := Registration{ID: runner.ID, Token: runner.Token}
	if runner.TokenExpiresAt != nil {
		reg.TokenExpiresAt = *runner.TokenExpiresAt
	}
	return reg, nil
}

// registration is the JSON answer of runners/verify and runners/reset_authentication_token.
type registration struct {
	ID             int64      `json:"id"`
	Token          string     `json:"token"`
	TokenExpiresAt *time.Time `json:"token_expires_at"`
}

// Verify checks a glrt- token with POST /runners/verify and registers this manager
// (systemID) with GitLab. Older servers answer a bare 200; the token is then returned as is.
func (c *Client) Verify(ctx context.Context, url, token, systemID string) (Registration, error) {
	body := struct {
		Token    string     `json:"token"`
		SystemID string     `json:"system_id,omitempty"`
		Info     runnerInfo `json:"info"`
	}{token, systemID, c.info()}
	reg, err := c.runnerCall(ctx, url, http.MethodPost, "runners/verify", token, body)
	if err != nil {
		return Registration{}, fmt.Errorf("verify runner: %w", err)
	}
	if reg.Token == "" {
		reg.Token = token
	}
	return reg, nil
}

// Unregister deletes the runner (all its managers) with DELETE /runners.
func (c *Client) Unregister(ctx context.Context, url, token string) error {
	body := struct {
		Token string `json:"token"`
	}{token}
	if _, err := c.runnerCall(ctx, url, http.MethodDelete, "runners", token, body); err != nil {
		return fmt.Errorf("unregister runner: %w", err)
	}
	return nil
}

// UnregisterManager removes one manager (systemID) of a runner with DELETE /runners/managers.
func (c *Client) UnregisterManager(ctx context.Context, url, token, systemID string) error {
	body := struct {
		Token    string `json:"token"`
		SystemID string `json:"system_id"`
	}{token, systemID}
	if _, err := c.runnerCall(ctx, url, http.MethodDelete, "runners/managers", token, body); err != nil {
		return fmt.Errorf("unregister runner manager %s: %w", systemID, err)
	}
	return nil
}

// ResetToken rotates the runner's authentication token with
// POST /runners/reset_authentication_token. The old token stops working at once.
func (c *Client) ResetToken(ctx context.Context, url, token string) (Registration, error) {
	body := struct {
		Token string `json:"token"`
	}{token}
	reg, err := c.runnerCall(ctx, url, http.MethodPost, "runners/reset_authentication_token", token, body)
	if err != nil {
		return Registration{}, fmt.Errorf("reset runner token: %w", err)
	}
	if reg.Token == "" {
		return Registration{}, errors.New("reset runner token: the answer carries no token")
	}
	return reg, nil
}

// runnerCall sends one runner-token call through the library's request machinery with a JSON
// body. The library's own DeleteRegisteredRunner and VerifyRegisteredRunner do not fit: for
// DELETE it puts the token in the query string (where proxies log it), verify drops
// system_id and the answer, and its ResetRunnerAuthenticationToken is the admin endpoint.
func (c *Client) runnerCall(ctx context.Context, url, method, path, token string, body any) (Registration, error) {
	var buf bytes.Buffer
	err := c.withGitLab(ctx, url, path, method, token, func(api *gl.Client, ro []gl.RequestOptionFunc) (*gl.Response, error) {
		req, err := api.NewRequest(method, path, nil, append(ro, jsonBody(body)))
		if err != nil {
			return nil, err
		}
		return api.Do(req, &buf)
	})
	if err != nil {
		return Registration{}, err
	}
	var reg registration
	if len(bytes.TrimSpace(buf.Bytes())) > 0 {
		if err := json.Unmarshal(buf.Bytes(), &reg); err != nil {
			return Registration{}, fmt.Errorf("%s %s: decode answer: %w", method, path, describeJSONError(err))
		}
	}
	out := Registration{ID: reg.ID, Token: reg.Token}
	if reg.TokenExpiresAt != nil {
		out.TokenExpiresAt = *reg.TokenExpiresAt
	}
	return out, nil
}

// jsonBody sets a JSON request body whatever the method (the library only does for POST/PUT/PATCH).
func jsonBody(v any) gl.RequestOptionFunc {
	return func(r *retryablehttp.Request) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		r.Header.Set("Content-Type", "application/json")
		return r.SetBody(b)
	}
}

var discardLogger = slog.New(slog.DiscardHandler)

// withGitLab runs one library call against url with this client's transport (CA, redirect
// policy), User-Agent and timeout, without the library's retries, and maps its errors to
// this package's: 401/403 ErrForbidden, 404 ErrNotFound, others *StatusError.
func (c *Client) withGitLab(ctx context.Context, url, endpoint, method, token string,
	call func(*gl.Client, []gl.RequestOptionFunc) (*gl.Response, error)) error {
	if _, err := apiURL(url, ""); err != nil {
		return err
	}
	api, err := gl.NewAuthSourceClient(gl.Unauthenticated{},
		gl.WithBaseURL(url),
		gl.WithHTTPClient(c.http),
		gl.WithUserAgent(c.userAgent),
		gl.WithoutRetries(),
		gl.WithURLWarningLogger(discardLogger),
	)
	if err != nil {
		return fmt.Errorf("GitLab client for %s: %w", redactURL(url), err)
	}
	rctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()

	start := time.Now()
	resp, err := call(api, []gl.RequestOptionFunc{gl.WithContext(rctx)})
	status := 0
	if resp != nil && resp.Response != nil {
		status = resp.StatusCode
	}
	c.observe(endpoint, method, status, start)
	if err == nil {
		return nil
	}

	var er *gl.ErrorResponse
	if !errors.As(err, &er) {
		if status == 0 {
			return transportError(ctx, method, endpoint, err)
		}
		return fmt.Errorf("%s %s: %w", method, endpoint, err) // an answer that would not decode
	}
	switch er.StatusCode {
	case http.StatusForbidden, http.StatusUnauthorized:
		return fmt.Errorf("%s %s at %s: %w", method, endpoint, redactURL(url), ErrForbidden)
	case http.StatusNotFound:
		return fmt.Errorf("%s %s at %s: %w", method, endpoint, redactURL(url), ErrNotFound)
	default:
		body := er.Body
		if len(body) > 512 {
			body = body[:512]
		}
		return &StatusError{Method: method, Endpoint: endpoint, Code: er.StatusCode, Body: redact(string(body), token)}
	}
}
