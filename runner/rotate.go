package runner

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// rotate keeps e's runner token from expiring, as gitlab-runner does: at 3/4 of its lifetime
// it asks GitLab for a new one, hands it to the pollers and saves it. A failed attempt is
// retried with backoff while the current token keeps polling. It returns when ctx ends, or
// at once for a token that never expires. started stands in for the time a token was
// obtained when the configuration does not say (token_obtained_at missing): the rotation then
// comes at 3/4 of what is left, never after the expiry, and a fleet restarting together does
// not reset every token at once.
func (r *Manager) rotate(ctx context.Context, e *entry, started time.Time) {
	log := r.log.With("runner", e.name)
	resetter, canReset := e.coord.(TokenResetter)
	for {
		tok := e.token.Load()
		if tok.expires.IsZero() {
			return
		}
		if !canReset || r.saveToken == nil {
			log.Warn("the runner token expires and is not rotated here: renew it in GitLab before then", "expires_at", tok.expires)
			return
		}
		from := tok.obtained
		if from.IsZero() {
			from = started
		}
		at := rotationTime(from, tok.expires)
		log.Debug("runner token rotation scheduled", "at", at, "expires_at", tok.expires)
		if !sleep(ctx, time.Until(at)) {
			return
		}
		for failures := 0; ; failures++ {
			err := r.rotateOnce(ctx, e, resetter, log)
			if err == nil {
				break
			}
			wait := r.timing.Backoff.Next(failures)
			log.Error("runner token rotation failed: the current token stays in use", "err", err,
				"expires_at", tok.expires, "retry_in", wait)
			r.metrics.Error("error")
			if !sleep(ctx, wait) {
				return
			}
		}
	}
}

// rotationTime is 3/4 into a token's lifetime, as gitlab-runner: the last quarter is left
// for retries when GitLab cannot be reached.
func rotationTime(obtained, expires time.Time) time.Time {
	return obtained.Add(expires.Sub(obtained) / 4 * 3)
}

// rotateOnce resets e's token, swaps the new one in for the pollers and saves it.
func (r *Manager) rotateOnce(ctx context.Context, e *entry, resetter TokenResetter, log *slog.Logger) error {
	old := e.token.Load()
	// Saving the token in use first proves the configuration can be written now: GitLab
	// revokes the old token as it answers, and a new one that is not saved is lost at the
	// next start, which is worse than an expiry the operator can see coming.
	if err := r.save(e, old); err != nil {
		return fmt.Errorf("not rotated: the token could not be saved: %w", err)
	}
	// Not cancelled at shutdown: an answer dropped half way would lose both tokens. The
	// client's own timeout bounds the call.
	reg, err := resetter.ResetToken(context.WithoutCancel(ctx), old.creds.URL, old.creds.Token)
	if err != nil {
		return err
	}
	fresh := &runnerToken{creds: old.creds, obtained: time.Now(), expires: reg.TokenExpiresAt}
	fresh.creds.Token = reg.Token
	e.token.Store(fresh)
	log.Info("runner token rotated", "expires_at", fresh.expires)
	r.persist(ctx, e, fresh, log)
	return nil
}

// persist saves a rotated token, retrying until it is saved or ctx ends: the process goes on
// with the new token either way, but until it is saved a restart would use the revoked one.
func (r *Manager) persist(ctx context.Context, e *entry, tok *runnerToken, log *slog.Logger) {
	for failures := 0; ; failures++ {
		err := r.save(e, tok)
		if err == nil {
			return
		}
		wait := r.timing.Backoff.Next(failures)
		log.Error("rotated runner token not saved: a restart now would use the revoked token", "err", err, "retry_in", wait)
		r.metrics.Error("error")
		if !sleep(ctx, wait) {
			return
		}
	}
}

func (r *Manager) save(e *entry, tok *runnerToken) error {
	return r.saveToken(e.name, tok.creds.Token, tok.obtained, tok.expires)
}
