package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// tokenClaims is the wire form of a Roster token: the registered claims plus
// the OpenID Connect email claims.
type tokenClaims struct {
	jwt.RegisteredClaims
	Email         string   `json:"email,omitempty"`
	EmailVerified flexBool `json:"email_verified"`
}

// flexBool reads a JSON boolean, or the strings "true" and "false" that some
// identity providers (AWS Cognito among them) put in email_verified.
type flexBool bool

// UnmarshalJSON accepts true, false, "true" and "false".
func (b *flexBool) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case bool:
		*b = flexBool(v)
	case string:
		p, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("email_verified: %q is not a boolean", v)
		}
		*b = flexBool(p)
	case nil:
		*b = false
	default:
		return fmt.Errorf("email_verified: %s is not a boolean", data)
	}
	return nil
}

// Mint signs an HS256 token for sub and email with the given issuer and
// audience, valid from now for ttl. It backs `roster token` and tests; the
// token is accepted by a Verifier configured with the same secret, issuer
// and audience. It returns an error when the secret is shorter than 32
// bytes, sub or email is empty, or ttl is not positive.
func Mint(secret []byte, issuer, audience, sub, email string, verified bool, ttl time.Duration, now time.Time) (string, error) {
	var errs []error
	if len(secret) < minSecretLen {
		errs = append(errs, fmt.Errorf("secret is %d bytes, needs at least %d", len(secret), minSecretLen))
	}
	if sub == "" {
		errs = append(errs, errors.New("sub is empty"))
	}
	if email == "" {
		errs = append(errs, errors.New("email is empty"))
	}
	if ttl <= 0 {
		errs = append(errs, fmt.Errorf("ttl %s is not positive", ttl))
	}
	if err := errors.Join(errs...); err != nil {
		return "", fmt.Errorf("auth: mint token: %w", err)
	}
	if issuer == "" {
		issuer = DefaultIssuer
	}
	if audience == "" {
		audience = DefaultAudience
	}
	now = now.Truncate(time.Second)
	claims := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   sub,
			Audience:  jwt.ClaimStrings{audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Email:         email,
		EmailVerified: flexBool(verified),
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("auth: mint token: %w", err)
	}
	return signed, nil
}
