package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultServiceScope is the scope a service's token must carry for the
// access-check API when the configuration names none.
const DefaultServiceScope = "roster:check"

// maxScopes bounds the entries of scope or scp a token may list.
const maxScopes = 64

// ErrPersonToken is wrapped by VerifyService's error for a token that
// verifies but speaks for a person (it carries an email): the access-check
// API is for services, and a person never uses it, so the HTTP layer
// answers 403 rather than 401.
var ErrPersonToken = errors.New("the token is a person's, not a service's")

// ErrScopeMissing is wrapped by VerifyService's error for a service's token
// without the scope asked for.
var ErrScopeMissing = errors.New("the token lacks the scope")

// Service is what Roster learns about a calling service from its token.
type Service struct {
	// Name is the service's client: the client_id claim (RFC 9068), or sub
	// when the token has none.
	Name string
	// Scopes are the scope claim's entries (or the scp array's).
	Scopes []string
	// ExpiresAt is the token's exp.
	ExpiresAt time.Time
}

// serviceClaims is the wire form of a client-credentials token: the
// claims every token carries, read as strictly, plus client_id and the
// scopes, as RFC 9068 (scope, space-separated) or as some providers send
// them (scp, an array).
type serviceClaims struct {
	tokenClaims
	ClientID string
	Scopes   []string
}

// UnmarshalJSON reads the claims of tokenClaims as it does, then
// client_id, scope and scp, refusing any of the wrong JSON type, over its
// bound or not storable, each as a *ClaimError.
func (c *serviceClaims) UnmarshalJSON(data []byte) error {
	if err := c.tokenClaims.UnmarshalJSON(data); err != nil {
		return err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("the claims are not a JSON object: %w", err)
	}
	c.ClientID, c.Scopes = "", nil
	if v, ok := raw["client_id"]; ok {
		id, err := textClaim(v, MaxSubjectBytes)
		if err != nil {
			return &ClaimError{Claim: "client_id", Reason: err.Error()}
		}
		c.ClientID = id
	}
	if v, ok := raw["scope"]; ok {
		s, err := textClaim(v, maxIssuerBytes)
		if err != nil {
			return &ClaimError{Claim: "scope", Reason: err.Error()}
		}
		c.Scopes = strings.Fields(s)
	}
	if v, ok := raw["scp"]; ok {
		var scp jwt.ClaimStrings
		if err := json.Unmarshal(v, &scp); err != nil {
			return &ClaimError{Claim: "scp", Reason: fmt.Sprintf("is %s, not a string or an array of strings", jsonKind(v))}
		}
		for i, s := range scp {
			if len(s) > maxIssuerBytes {
				return &ClaimError{Claim: "scp", Reason: fmt.Sprintf("entry %d is %d bytes, longer than %d", i, len(s), maxIssuerBytes)}
			}
			if err := checkText(s); err != nil {
				return &ClaimError{Claim: "scp", Reason: fmt.Sprintf("entry %d %v", i, err)}
			}
		}
		c.Scopes = append(c.Scopes, scp...)
	}
	if len(c.Scopes) > maxScopes {
		return &ClaimError{Claim: "scope", Reason: fmt.Sprintf("has %d entries, more than %d", len(c.Scopes), maxScopes)}
	}
	return nil
}

// VerifyService checks rawToken as a service's client-credentials token
// carrying scope (DefaultServiceScope when empty) and returns the service
// it speaks for. The token is checked as Verify checks any (signature,
// issuer, audience, lifetime, strict claims), but must carry no email:
// one that does is a person's, and the error wraps ErrPersonToken. A
// token without the scope wraps ErrScopeMissing. Every other error wraps
// ErrUnauthenticated as Verify's do.
func (v *Verifier) VerifyService(ctx context.Context, rawToken, scope string) (Service, error) {
	if scope == "" {
		scope = DefaultServiceScope
	}
	if rawToken == "" {
		return Service{}, fmt.Errorf("%w: no token", ErrUnauthenticated)
	}
	if len(rawToken) > maxTokenBytes {
		return Service{}, fmt.Errorf("%w: the token is %d bytes, longer than %d", ErrUnauthenticated, len(rawToken), maxTokenBytes)
	}
	var sc serviceClaims
	if _, err := v.parser.ParseWithClaims(rawToken, &sc, v.keyFor(ctx)); err != nil {
		return Service{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	if sc.Subject == "" || sc.IssuedAt == nil {
		return Service{}, fmt.Errorf("%w: %w: sub and iat", ErrUnauthenticated, jwt.ErrTokenRequiredClaimMissing)
	}
	if life := sc.ExpiresAt.Sub(sc.IssuedAt.Time); life > v.maxLifetime {
		return Service{}, fmt.Errorf("%w: %w", ErrUnauthenticated, &ClaimError{Claim: "exp",
			Reason: fmt.Sprintf("is %s after iat, longer than the %s a token may live", life, v.maxLifetime)})
	}
	if sc.Email != "" {
		return Service{}, ErrPersonToken
	}
	name := sc.ClientID
	if name == "" {
		name = sc.Subject
	}
	svc := Service{Name: name, Scopes: sc.Scopes, ExpiresAt: sc.ExpiresAt.Time}
	if !slices.Contains(sc.Scopes, scope) {
		return svc, fmt.Errorf("%w %s", ErrScopeMissing, scope)
	}
	return svc, nil
}

// MintService signs an HS256 client-credentials token for the service
// name, carrying scope (DefaultServiceScope when empty) and no email,
// valid from now for ttl. It backs `roster token --service` and tests.
// It returns an error when the secret is shorter than 32 bytes, name
// breaks the rules of sub, or ttl is not positive.
func MintService(secret []byte, issuer, audience, name, scope string, ttl time.Duration, now time.Time) (string, error) {
	var errs []error
	if len(secret) < minSecretLen {
		errs = append(errs, fmt.Errorf("secret is %d bytes, needs at least %d", len(secret), minSecretLen))
	}
	errs = append(errs, mintText("service", name, MaxSubjectBytes))
	if ttl <= 0 {
		errs = append(errs, fmt.Errorf("ttl %s is not positive", ttl))
	}
	if err := errors.Join(errs...); err != nil {
		return "", fmt.Errorf("auth: mint service token: %w", err)
	}
	if scope == "" {
		scope = DefaultServiceScope
	}
	now = now.Truncate(time.Second)
	claims := jwt.MapClaims{
		"iss": orDefault(issuer, DefaultIssuer), "aud": orDefault(audience, DefaultAudience),
		"sub": name, "client_id": name, "scope": scope,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(ttl).Unix(),
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("auth: mint service token: %w", err)
	}
	return signed, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
