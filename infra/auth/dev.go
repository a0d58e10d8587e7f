package auth

import (
	"time"

	"github.com/google/uuid"
)

// devAccountSpace namespaces the account IDs of development sign-in.
// Changing it gives everybody who signed in that way a new account.
var devAccountSpace = uuid.MustParse("b7e3c2a4-5d1f-4e8b-9a60-3f2c1d0e9b87")

// DevAccountID is the account a development sign-in gives email: the same
// for the same (normalised) email on every server and every day, so a
// developer who signs in again finds their properties, and two emails never
// share one.
func DevAccountID(email string) string {
	return uuid.NewSHA1(devAccountSpace, []byte(email)).String()
}

// DevToken is a development token minted for an email.
type DevToken struct {
	Token     string
	AccountID string
	Email     string
	ExpiresAt time.Time
}

// MintDev signs an HS256 token for email, verified, as account
// DevAccountID(email), valid from now for ttl. The caller normalises email
// first. Errors are Mint's: a short secret, an empty email, a ttl that is
// not positive.
func MintDev(secret []byte, issuer, audience, email string, ttl time.Duration, now time.Time) (DevToken, error) {
	id := DevAccountID(email)
	tok, err := Mint(secret, issuer, audience, id, email, true, ttl, now)
	if err != nil {
		return DevToken{}, err
	}
	return DevToken{Token: tok, AccountID: id, Email: email, ExpiresAt: now.Truncate(time.Second).Add(ttl)}, nil
}
