package coordinator

import (
	"crypto/rand"
	"time"
)

// Token prefixes GitLab uses, so that runners' token masking (features.token_mask_prefixes)
// and operators recognise them.
const (
	runnerTokenPrefix = "glrt-"  // runner authentication token created in the UI/API
	jobTokenPrefix    = "glcbt-" // CI build (job) token
)

// newToken returns prefix followed by 26 random base32 characters (130 bits).
func newToken(prefix string) string { return prefix + rand.Text() }

// tokenExpiry is when a runner token issued at now expires; zero when tokens do not.
func (s *Server) tokenExpiry(now time.Time) time.Time {
	if s.opts.TokenLifetime <= 0 {
		return time.Time{}
	}
	return now.Add(s.opts.TokenLifetime)
}
