package auth

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Mint signs an HS256 token for sub and email with the given issuer and
// audience, valid from now for ttl. It backs `roster token` and tests; the
// token is accepted by a Verifier configured with the same secret, issuer
// and audience whose maximum lifetime is at least ttl. It returns an error
// when the secret is shorter than 32 bytes, sub or email is empty or breaks
// the rules Verify applies to them (blank, too long, control characters),
// or ttl is not positive.
func Mint(secret []byte, issuer, audience, sub, email string, verified bool, ttl time.Duration, now time.Time) (string, error) {
	var errs []error
	if len(secret) < minSecretLen {
		errs = append(errs, fmt.Errorf("secret is %d bytes, needs at least %d", len(secret), minSecretLen))
	}
	errs = append(errs, mintText("sub", sub, MaxSubjectBytes), mintText("email", email, MaxEmailBytes))
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
	claims := &tokenClaims{
		Issuer:        issuer,
		Subject:       sub,
		Audience:      jwt.ClaimStrings{audience},
		IssuedAt:      jwt.NewNumericDate(now),
		NotBefore:     jwt.NewNumericDate(now),
		ExpiresAt:     jwt.NewNumericDate(now.Add(ttl)),
		Email:         email,
		EmailVerified: verified,
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("auth: mint token: %w", err)
	}
	return signed, nil
}

// mintText refuses, for Mint, a sub or email that Verify would refuse.
func mintText(claim, v string, max int) error {
	switch {
	case v == "":
		return fmt.Errorf("%s is empty", claim)
	case strings.TrimSpace(v) == "":
		return fmt.Errorf("%s is blank", claim)
	case len(v) > max:
		return fmt.Errorf("%s is %d bytes, longer than %d", claim, len(v), max)
	}
	if err := checkText(v); err != nil {
		return fmt.Errorf("%s %w", claim, err)
	}
	return nil
}
