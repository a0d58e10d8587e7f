package httpapi

import (
	"context"
	"net/http"
)

// Limits are the limits on writes (infra/limits); a nil field limits
// nothing.
type Limits struct {
	// ReserveInvitations takes the quota of inviting emails to a property
	// before anything is written, or refuses with an error that says which
	// limit; release gives the quota back when the invitation was not made.
	// commandID is the command's ID when it carries an Idempotency-Key
	// (empty otherwise), so that its retries are counted once.
	ReserveInvitations func(ctx context.Context, commandID, propertyID, actorID string, emails []string) (release func(context.Context) error, err error)
	// Commands limits the commands (every authenticated request that is not
	// a GET) per account.
	Commands KeyLimiter
	// TokenFailures limits the refused bearer tokens per client IP: past
	// it, every request from the address is refused before its token is
	// checked, until the quota refills.
	TokenFailures FailureLimiter
}

// KeyLimiter allows an event for a key, or refuses it with an error.
type KeyLimiter interface {
	Allow(key string) error
}

// FailureLimiter refuses a key whose failures are spent, and counts them.
type FailureLimiter interface {
	Check(key string) error
	Fail(key string)
}

// limitCommands refuses the commands of an account past its limit, before
// the handler reads the body. Queries are not counted.
func limitCommands(l KeyLimiter, method string, next http.Handler) http.Handler {
	if l == nil || method == http.MethodGet {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := l.Allow(actorOf(r.Context()).AccountID); err != nil {
			writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}
