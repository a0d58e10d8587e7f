// Package auth verifies the bearer tokens (JWT) that callers of Roster's API
// present, and mints development tokens signed with a shared secret.
//
// Two kinds of keys are supported, and a Verifier may hold both: an HS256
// secret for development, and the RS256/ES256 public keys an identity
// provider publishes at a JWKS URL for production. Every token must carry
// the configured issuer and audience, an issue time and an expiry no
// further apart than the maximum lifetime, a subject and an email. Claims
// are read strictly: JSON numbers and booleans only where RFC 7519 and
// OpenID Connect say so, and the text claims bounded and storable (see
// ClaimError).
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// ErrUnauthenticated is wrapped by every error Verify returns, so the HTTP
// layer can answer 401 with one errors.Is check while logs keep the reason
// (expired, wrong issuer, bad signature...).
var ErrUnauthenticated = errors.New("unauthenticated")

// DefaultIssuer and DefaultAudience are the iss and aud claims expected when
// the configuration names none; development tokens carry them too.
const (
	DefaultIssuer   = "roster"
	DefaultAudience = "roster"
)

// DefaultMaxLifetime is the longest a token may be valid (exp - iat) when
// the configuration does not say: a day, as identity providers' access
// tokens are hours long and a stolen one should not outlive that.
const DefaultMaxLifetime = 24 * time.Hour

// minSecretLen is the shortest HS256 secret accepted: RFC 7518 section 3.2
// asks for a key at least as long as the hash output (256 bits).
const minSecretLen = 32

// hmacMethods are the algorithms accepted with a shared secret; jwksMethods
// those accepted with keys from a JWKS. Anything else, "none" included, is
// refused before a key is even looked up.
var (
	hmacMethods = []string{jwt.SigningMethodHS256.Alg()}
	jwksMethods = []string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg()}
)

// Claims is what Roster learns about the caller from a verified token.
type Claims struct {
	// Subject is the account ID (the sub claim).
	Subject string
	// Email is the email claim exactly as the token carries it; callers
	// normalise it before comparing it with anything.
	Email string
	// EmailVerified reports whether the identity provider vouches for Email.
	EmailVerified bool
}

// VerifierConfig says which tokens a Verifier accepts. At least one of
// Secret and JWKSURL is required.
type VerifierConfig struct {
	// Secret is the HS256 shared secret of development tokens; empty
	// disables HS256.
	Secret []byte
	// JWKSURL is where the identity provider publishes its public keys
	// (RS256 or ES256); empty disables them. The set is fetched once when
	// the Verifier is created, refreshed hourly and when a token names an
	// unknown key ID.
	JWKSURL string
	// Issuer is the expected iss claim; DefaultIssuer when empty.
	Issuer string
	// Audience is a value the aud claim must contain; DefaultAudience when empty.
	Audience string
	// Leeway tolerates clock skew between the token's issuer and this server
	// when checking exp, nbf and iat. Zero means none.
	Leeway time.Duration
	// MaxLifetime bounds exp - iat: a token valid for longer is refused,
	// however recently it was issued. DefaultMaxLifetime when zero.
	MaxLifetime time.Duration
	// HTTPClient fetches the JWKS; http.DefaultClient when nil.
	HTTPClient *http.Client
	// OnJWKSRefreshError, when set, receives the errors of background JWKS
	// refreshes, which would otherwise go to the standard library's slog.
	OnJWKSRefreshError func(ctx context.Context, err error)
	// Now is the clock used to check exp and nbf; time.Now when nil. Tests
	// set it.
	Now func() time.Time
}

func (c *VerifierConfig) setDefaults() {
	if c.Issuer == "" {
		c.Issuer = DefaultIssuer
	}
	if c.Audience == "" {
		c.Audience = DefaultAudience
	}
	if c.HTTPClient == nil {
		c.HTTPClient = http.DefaultClient
	}
	if c.MaxLifetime == 0 {
		c.MaxLifetime = DefaultMaxLifetime
	}
}

// Validate reports every problem of the configuration at once.
func (c VerifierConfig) Validate() error {
	var errs []error
	if len(c.Secret) == 0 && c.JWKSURL == "" {
		errs = append(errs, errors.New("auth: neither a secret nor a JWKS URL is configured"))
	}
	if len(c.Secret) > 0 && len(c.Secret) < minSecretLen {
		errs = append(errs, fmt.Errorf("auth: secret is %d bytes, needs at least %d", len(c.Secret), minSecretLen))
	}
	if c.Leeway < 0 {
		errs = append(errs, fmt.Errorf("auth: negative leeway %s", c.Leeway))
	}
	if c.MaxLifetime < 0 {
		errs = append(errs, fmt.Errorf("auth: negative maximum lifetime %s", c.MaxLifetime))
	}
	return errors.Join(errs...)
}

// Verifier checks bearer tokens. It is safe for concurrent use.
type Verifier struct {
	secret      []byte
	jwks        keyfunc.Keyfunc // nil without a JWKS URL
	parser      *jwt.Parser
	maxLifetime time.Duration
}

// NewVerifier returns a Verifier for cfg. With a JWKS URL it fetches the key
// set before returning (an unreachable URL is an error, so a misconfigured
// server fails at start) and refreshes it in the background until ctx ends.
func NewVerifier(ctx context.Context, cfg VerifierConfig) (*Verifier, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	v := &Verifier{secret: slices.Clone(cfg.Secret), maxLifetime: cfg.MaxLifetime}

	var methods []string
	if len(cfg.Secret) > 0 {
		methods = append(methods, hmacMethods...)
	}
	if cfg.JWKSURL != "" {
		failFirst := false
		override := keyfunc.Override{
			Client:                    cfg.HTTPClient,
			HTTPTimeout:               10 * time.Second,
			NoErrorReturnFirstHTTPReq: &failFirst,
		}
		if cfg.OnJWKSRefreshError != nil {
			override.RefreshErrorHandlerFunc = func(string) func(context.Context, error) { return cfg.OnJWKSRefreshError }
		}
		kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.JWKSURL}, override)
		if err != nil {
			return nil, fmt.Errorf("auth: load JWKS from %s: %w", cfg.JWKSURL, err)
		}
		v.jwks = kf
		methods = append(methods, jwksMethods...)
	}

	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
	}
	if cfg.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(cfg.Now))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// Verify checks rawToken (without the "Bearer " prefix) and returns its
// claims. Every error wraps ErrUnauthenticated and, where the JWT library
// found the problem, its own sentinel too (jwt.ErrTokenExpired,
// jwt.ErrTokenInvalidIssuer, jwt.ErrTokenSignatureInvalid...); a claim of
// the wrong type, over its bound or not storable wraps a *ClaimError
// naming it, and a missing sub, email or iat jwt.ErrTokenRequiredClaimMissing.
func (v *Verifier) Verify(ctx context.Context, rawToken string) (Claims, error) {
	if rawToken == "" {
		return Claims{}, fmt.Errorf("%w: no token", ErrUnauthenticated)
	}
	if len(rawToken) > maxTokenBytes {
		return Claims{}, fmt.Errorf("%w: the token is %d bytes, longer than %d", ErrUnauthenticated, len(rawToken), maxTokenBytes)
	}
	var tc tokenClaims
	if _, err := v.parser.ParseWithClaims(rawToken, &tc, v.keyFor(ctx)); err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	for _, c := range []struct {
		name    string
		missing bool
	}{{"sub", tc.Subject == ""}, {"email", tc.Email == ""}, {"iat", tc.IssuedAt == nil}} {
		if c.missing {
			return Claims{}, fmt.Errorf("%w: %w: %s", ErrUnauthenticated, jwt.ErrTokenRequiredClaimMissing, c.name)
		}
	}
	// The parser has checked that exp is present and iat not in the future.
	if life := tc.ExpiresAt.Sub(tc.IssuedAt.Time); life > v.maxLifetime {
		return Claims{}, fmt.Errorf("%w: %w", ErrUnauthenticated, &ClaimError{Claim: "exp",
			Reason: fmt.Sprintf("is %s after iat, longer than the %s a token may live", life, v.maxLifetime)})
	}
	return Claims{Subject: tc.Subject, Email: tc.Email, EmailVerified: tc.EmailVerified}, nil
}

// keyFor picks the key by the token's algorithm family, so a token can never
// make the shared secret verify an RSA or EC signature or the other way
// round (the parser has already refused algorithms outside the allowed list).
func (v *Verifier) keyFor(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		switch t.Method.(type) {
		case *jwt.SigningMethodHMAC:
			if len(v.secret) == 0 {
				return nil, errors.New("no secret configured for HMAC tokens")
			}
			return v.secret, nil
		case *jwt.SigningMethodRSA, *jwt.SigningMethodECDSA:
			if v.jwks == nil {
				return nil, errors.New("no JWKS configured for public-key tokens")
			}
			return v.jwks.KeyfuncCtx(ctx)(t)
		default:
			return nil, fmt.Errorf("unexpected signing method %s", t.Method.Alg())
		}
	}
}

// BearerToken extracts the token from an Authorization header value of the
// form "Bearer <token>" (the scheme is case-insensitive). It reports false
// when the header is missing, uses another scheme or carries no token.
func BearerToken(authorization string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(authorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
