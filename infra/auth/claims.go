package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// Bounds of what a token may carry. The subject and the email are copied
// into the metadata of every event the caller causes and from there into the
// read models, so each is bounded and must be text PostgreSQL can store.
const (
	// maxTokenBytes bounds the whole compact token: an identity provider's
	// token with the usual claims is well under 2 KiB.
	maxTokenBytes = 8 << 10
	// MaxSubjectBytes bounds sub: identity providers' account IDs are
	// UUIDs or shorter; 255 leaves room for prefixed ones ("auth0|...").
	MaxSubjectBytes = 255
	// MaxEmailBytes bounds email: the longest address SMTP can carry
	// (RFC 5321 section 4.5.3.1.3, a 256-byte path less its angle brackets).
	MaxEmailBytes = 254
	// maxIssuerBytes bounds iss and each aud entry, which are only compared
	// with the configuration but are read all the same.
	maxIssuerBytes = 1024
	// maxAudiences bounds the number of aud entries.
	maxAudiences = 16
	// maxNumericDate is 9999-12-31T23:59:59Z: a later exp, nbf or iat is
	// no date anyone meant.
	maxNumericDate = 253402300799
)

// ClaimError is a claim Roster refuses to take from a token: of the wrong
// JSON type, over its bound, or holding what cannot be stored. Verify's
// error wraps it, so the 401 names the claim.
type ClaimError struct {
	// Claim is the claim's name (sub, email, exp...).
	Claim string
	// Reason says what is wrong with it, without echoing the value.
	Reason string
}

func (e *ClaimError) Error() string { return "claim " + e.Claim + " " + e.Reason }

// tokenClaims is the wire form of a Roster token: the registered claims
// Roster checks plus the OpenID Connect email claims. It is read strictly
// (see UnmarshalJSON); claims it does not name are ignored.
type tokenClaims struct {
	Issuer        string
	Subject       string
	Audience      jwt.ClaimStrings
	ExpiresAt     *jwt.NumericDate
	NotBefore     *jwt.NumericDate
	IssuedAt      *jwt.NumericDate
	Email         string
	EmailVerified bool
}

// The getters make tokenClaims a jwt.Claims, so the parser checks exp, nbf,
// iat, iss and aud on it.
func (c *tokenClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt, nil }
func (c *tokenClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IssuedAt, nil }
func (c *tokenClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore, nil }
func (c *tokenClaims) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c *tokenClaims) GetSubject() (string, error)                  { return c.Subject, nil }
func (c *tokenClaims) GetAudience() (jwt.ClaimStrings, error)       { return c.Audience, nil }

// claimRules read each claim Roster uses, in the order problems are
// reported.
var claimRules = []struct {
	name string
	read func(c *tokenClaims, raw json.RawMessage) error
}{
	{"iss", func(c *tokenClaims, raw json.RawMessage) (err error) {
		c.Issuer, err = textClaim(raw, maxIssuerBytes)
		return err
	}},
	{"sub", func(c *tokenClaims, raw json.RawMessage) (err error) {
		if c.Subject, err = textClaim(raw, MaxSubjectBytes); err == nil && c.Subject != "" && strings.TrimSpace(c.Subject) == "" {
			err = fmt.Errorf("is blank")
		}
		return err
	}},
	{"aud", readAudience},
	{"exp", func(c *tokenClaims, raw json.RawMessage) (err error) { c.ExpiresAt, err = dateClaim(raw); return err }},
	{"nbf", func(c *tokenClaims, raw json.RawMessage) (err error) { c.NotBefore, err = dateClaim(raw); return err }},
	{"iat", func(c *tokenClaims, raw json.RawMessage) (err error) { c.IssuedAt, err = dateClaim(raw); return err }},
	{"email", func(c *tokenClaims, raw json.RawMessage) (err error) {
		c.Email, err = textClaim(raw, MaxEmailBytes)
		return err
	}},
	{"email_verified", func(c *tokenClaims, raw json.RawMessage) error {
		// Only a JSON boolean: "true", "1" or "T" are what a sloppy or
		// hostile issuer sends, and this claim decides who may accept
		// an invitation.
		switch string(raw) {
		case "true":
			c.EmailVerified = true
		case "false":
			c.EmailVerified = false
		default:
			return fmt.Errorf("is %s, not a JSON boolean", jsonKind(raw))
		}
		return nil
	}},
}

// UnmarshalJSON reads the claims Roster uses, refusing any of the wrong
// JSON type, over its bound, or not storable as text. Every such problem is
// reported, each as a *ClaimError, the first one wrapped.
func (c *tokenClaims) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("the claims are not a JSON object: %w", err)
	}
	*c = tokenClaims{}
	var first error
	var msgs []string
	for _, r := range claimRules {
		v, ok := raw[r.name]
		if !ok {
			continue
		}
		if err := r.read(c, v); err != nil {
			ce := &ClaimError{Claim: r.name, Reason: err.Error()}
			if first == nil {
				first = ce
			}
			msgs = append(msgs, ce.Error())
		}
	}
	if first == nil {
		return nil
	}
	if len(msgs) == 1 {
		return first
	}
	return fmt.Errorf("%w (and %s)", first, strings.Join(msgs[1:], "; "))
}

// textClaim reads a JSON string of at most max bytes that PostgreSQL text
// can hold and a person can read: valid UTF-8 as sent, no control
// characters (U+0000 among them), and no U+FFFD, which is what invalid
// UTF-8 and lone surrogate escapes become once decoded.
func textClaim(raw json.RawMessage, max int) (string, error) {
	if !utf8.Valid(raw) {
		return "", fmt.Errorf("is not valid UTF-8")
	}
	if len(raw) == 0 || raw[0] != '"' {
		return "", fmt.Errorf("is %s, not a JSON string", jsonKind(raw))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("is not a JSON string: %v", err)
	}
	if len(s) > max {
		return "", fmt.Errorf("is %d bytes, longer than %d", len(s), max)
	}
	if err := checkText(s); err != nil {
		return "", err
	}
	return s, nil
}

// checkText refuses a control character or U+FFFD, naming its byte offset.
func checkText(s string) error {
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			return fmt.Errorf("holds U+FFFD at byte %d: invalid UTF-8 or a lone surrogate", i)
		case unicode.IsControl(r):
			return fmt.Errorf("holds control character %U at byte %d", r, i)
		}
	}
	return nil
}

// dateClaim reads a NumericDate that is a JSON number: jwt's own type also
// takes a quoted number, which no conforming issuer sends.
func dateClaim(raw json.RawMessage) (*jwt.NumericDate, error) {
	if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return nil, fmt.Errorf("is %s, not a JSON number", jsonKind(raw))
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return nil, fmt.Errorf("is not a number: %v", err)
	}
	if f < 0 || f > maxNumericDate {
		return nil, fmt.Errorf("is %s, not seconds between 1970 and 9999", raw)
	}
	var d jwt.NumericDate
	if err := d.UnmarshalJSON(raw); err != nil {
		return nil, err
	}
	return &d, nil
}

func readAudience(c *tokenClaims, raw json.RawMessage) error {
	if !utf8.Valid(raw) {
		return fmt.Errorf("is not valid UTF-8")
	}
	var aud jwt.ClaimStrings
	if err := json.Unmarshal(raw, &aud); err != nil {
		return fmt.Errorf("is %s, not a string or an array of strings", jsonKind(raw))
	}
	if len(aud) > maxAudiences {
		return fmt.Errorf("has %d entries, more than %d", len(aud), maxAudiences)
	}
	for i, a := range aud {
		if len(a) > maxIssuerBytes {
			return fmt.Errorf("entry %d is %d bytes, longer than %d", i, len(a), maxIssuerBytes)
		}
		if err := checkText(a); err != nil {
			return fmt.Errorf("entry %d %w", i, err)
		}
	}
	c.Audience = aud
	return nil
}

// jsonKind names the JSON type of raw for an error message, without
// echoing a value that may be long or unprintable.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0:
		return "empty"
	case raw[0] == '"':
		return "a JSON string"
	case raw[0] == '{':
		return "a JSON object"
	case raw[0] == '[':
		return "a JSON array"
	case string(raw) == "null":
		return "null"
	case string(raw) == "true" || string(raw) == "false":
		return "a JSON boolean"
	}
	return "a JSON number"
}

// MarshalJSON writes the claims as Mint signs them.
func (c tokenClaims) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Issuer        string           `json:"iss,omitempty"`
		Subject       string           `json:"sub,omitempty"`
		Audience      jwt.ClaimStrings `json:"aud,omitempty"`
		ExpiresAt     *jwt.NumericDate `json:"exp,omitempty"`
		NotBefore     *jwt.NumericDate `json:"nbf,omitempty"`
		IssuedAt      *jwt.NumericDate `json:"iat,omitempty"`
		Email         string           `json:"email,omitempty"`
		EmailVerified bool             `json:"email_verified"`
	}{c.Issuer, c.Subject, c.Audience, c.ExpiresAt, c.NotBefore, c.IssuedAt, c.Email, c.EmailVerified})
}
