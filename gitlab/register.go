package gitlab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
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
	body := legacyRegistration{
		Token:       o.Token,
		Description: o.Description,
		Info: versionInfo{
			Name: info.Name, Version: info.Version, Revision: info.Revision,
			Platform: info.Platform, Architecture: info.Architecture,
		},
		Paused: o.Paused,
		Locked: o.Locked,
		// A runner with no tags that refuses untagged jobs could never get one.
		RunUntagged:    o.RunUntagged || len(o.Tags) == 0,
		TagList:        o.Tags,
		AccessLevel:    o.AccessLevel,
		MaximumTimeout: max(o.MaximumTimeout, 0),
	}
	reg, err := c.runnerCall(ctx, url, http.MethodPost, "runners", o.Token, body)
	if err != nil {
		return Registration{}, fmt.Errorf("register runner: %w", err)
	}
	return reg, nil
}

// legacyRegistration is the body of POST /runners with a registration token.
type legacyRegistration struct {
	Token          string      `json:"token"`
	Description    string      `json:"description"`
	Info           versionInfo `json:"info"`
	Paused         bool        `json:"paused"`
	Locked         bool        `json:"locked"`
	RunUntagged    bool        `json:"run_untagged"`
	TagList        []string    `json:"tag_list,omitempty"`
	AccessLevel    string      `json:"access_level,omitempty"`
	MaximumTimeout int         `json:"maximum_timeout,omitempty"` // seconds; absent for none
}

// versionInfo is what legacy registration tells of the runner: who it is, not what it can do.
type versionInfo struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Revision     string `json:"revision"`
	Platform     string `json:"platform"`
	Architecture string `json:"architecture"`
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

// runnerCall sends one call of the runners API with a JSON body that carries the token (the
// token is never put in the URL, where proxies log it) and decodes a registration from a 2xx
// answer; an empty answer gives a zero Registration.
func (c *Client) runnerCall(ctx context.Context, url, method, path, token string, body any) (Registration, error) {
	r := request{method: method, endpoint: path, secrets: []string{token}, header: http.Header{}}
	var err error
	if r.url, err = apiURL(url, path); err != nil {
		return Registration{}, err
	}
	b, err := json.Marshal(body)
	if err != nil {
		return Registration{}, fmt.Errorf("encode %s %s: %w", method, path, err)
	}
	r.body = bytes.NewReader(b)
	r.header.Set("Accept", "application/json")
	r.header.Set("Content-Type", "application/json")

	var reg registration
	err = c.exchange(ctx, r, func(resp *http.Response) error {
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return answerError(resp, r)
		}
		raw, err := io.ReadAll(io.LimitReader(resp.Body, maxRegistrationAnswer))
		if err != nil {
			return fmt.Errorf("%s %s: read answer: %w", method, path, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			return nil
		}
		if err := json.Unmarshal(raw, &reg); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, describeJSONError(err))
		}
		return nil
	})
	if err != nil {
		return Registration{}, err
	}
	out := Registration{ID: reg.ID, Token: reg.Token}
	if reg.TokenExpiresAt != nil {
		out.TokenExpiresAt = *reg.TokenExpiresAt
	}
	return out, nil
}

// maxRegistrationAnswer bounds the answer of a runners call: GitLab's are a few hundred bytes.
const maxRegistrationAnswer = 64 << 10
