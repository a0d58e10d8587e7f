package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

var (
	testSecret  = []byte("0123456789abcdef0123456789abcdef")
	otherSecret = []byte("fedcba9876543210fedcba9876543210")
	testNow     = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
)

// claims returns valid wire claims for testNow; cases change what they test.
func claims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss":            DefaultIssuer,
		"aud":            DefaultAudience,
		"sub":            "acc-1",
		"email":          "Ada@Example.com",
		"email_verified": true,
		"iat":            testNow.Add(-time.Minute).Unix(),
		"exp":            testNow.Add(time.Hour).Unix(),
	}
}

func with(m jwt.MapClaims, edit func(jwt.MapClaims)) jwt.MapClaims {
	edit(m)
	return m
}

func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

func hmacVerifier(t *testing.T) *Verifier {
	t.Helper()
	v, err := NewVerifier(t.Context(), VerifierConfig{Secret: testSecret, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func TestVerifyWithSecret(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	minted, err := Mint(testSecret, "", "", "acc-2", "bob@example.com", false, time.Hour, testNow.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	v := hmacVerifier(t)

	tests := []struct {
		name    string
		token   string
		want    Claims
		wantErr error // besides ErrUnauthenticated, which every failure wraps
	}{
		{
			name:  "a valid token yields its claims, email untouched",
			token: sign(t, jwt.SigningMethodHS256, testSecret, "", claims()),
			want:  Claims{Subject: "acc-1", Email: "Ada@Example.com", EmailVerified: true},
		},
		{
			name:  "a minted token with email_verified false is carried through",
			token: minted,
			want:  Claims{Subject: "acc-2", Email: "bob@example.com", EmailVerified: false},
		},
		{
			name:  "a missing email_verified means unverified",
			token: sign(t, jwt.SigningMethodHS256, testSecret, "", with(claims(), func(m jwt.MapClaims) { delete(m, "email_verified") })),
			want:  Claims{Subject: "acc-1", Email: "Ada@Example.com"},
		},
		{
			name:    "an expired token is refused",
			token:   sign(t, jwt.SigningMethodHS256, testSecret, "", with(claims(), func(m jwt.MapClaims) { m["exp"] = testNow.Add(-time.Second).Unix() })),
			wantErr: jwt.ErrTokenExpired,
		},
		{
			name:    "a token without expiry is refused",
			token:   sign(t, jwt.SigningMethodHS256, testSecret, "", with(claims(), func(m jwt.MapClaims) { delete(m, "exp") })),
			wantErr: jwt.ErrTokenRequiredClaimMissing,
		},
		{
			name:    "a token not valid yet is refused",
			token:   sign(t, jwt.SigningMethodHS256, testSecret, "", with(claims(), func(m jwt.MapClaims) { m["nbf"] = testNow.Add(time.Hour).Unix() })),
			wantErr: jwt.ErrTokenNotValidYet,
		},
		{
			name:    "a token issued in the future is refused",
			token:   sign(t, jwt.SigningMethodHS256, testSecret, "", with(claims(), func(m jwt.MapClaims) { m["iat"] = testNow.Add(time.Hour).Unix() })),
			wantErr: jwt.ErrTokenUsedBeforeIssued,
		},
		{
			name:    "a token from another issuer is refused",
			token:   sign(t, jwt.SigningMethodHS256, testSecret, "", with(claims(), func(m jwt.MapClaims) { m["iss"] = "someone-else" })),
			wantErr: jwt.ErrTokenInvalidIssuer,
		},
		{
			name:    "a token for another audience is refused",
			token:   sign(t, jwt.SigningMethodHS256, testSecret, "", with(claims(), func(m jwt.MapClaims) { m["aud"] = []string{"billing"} })),
			wantErr: jwt.ErrTokenInvalidAudience,
		},
		{
			name:    "a token signed with another secret is refused",
			token:   sign(t, jwt.SigningMethodHS256, otherSecret, "", claims()),
			wantErr: jwt.ErrTokenSignatureInvalid,
		},
		{
			name:    "a token with alg none is refused",
			token:   sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims()),
			wantErr: jwt.ErrTokenSignatureInvalid,
		},
		{
			name:    "an RS256 token is refused by a secret-only verifier",
			token:   sign(t, jwt.SigningMethodRS256, rsaKey, "", claims()),
			wantErr: jwt.ErrTokenSignatureInvalid,
		},
		{
			name:    "an HS512 token is refused even with the right secret",
			token:   sign(t, jwt.SigningMethodHS512, testSecret, "", claims()),
			wantErr: jwt.ErrTokenSignatureInvalid,
		},
		{
			name:    "a token without sub is refused",
			token:   sign(t, jwt.SigningMethodHS256, testSecret, "", with(claims(), func(m jwt.MapClaims) { delete(m, "sub") })),
			wantErr: jwt.ErrTokenRequiredClaimMissing,
		},
		{
			name:    "a token without email is refused",
			token:   sign(t, jwt.SigningMethodHS256, testSecret, "", with(claims(), func(m jwt.MapClaims) { delete(m, "email") })),
			wantErr: jwt.ErrTokenRequiredClaimMissing,
		},
		{
			name:    "a malformed token is refused",
			token:   "not.a.jwt",
			wantErr: jwt.ErrTokenMalformed,
		},
		{
			name:  "an empty token is refused",
			token: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(context.Background(), tt.token)
			wantFail := tt.wantErr != nil || tt.want == (Claims{})
			if !wantFail {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("claims (-want +got):\n%s", diff)
				}
				return
			}
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("Verify error = %v, want one wrapping ErrUnauthenticated", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Verify error = %v, want one wrapping %v", err, tt.wantErr)
			}
			if got != (Claims{}) {
				t.Errorf("claims on failure = %+v, want zero", got)
			}
		})
	}
}

func TestVerifyHonoursConfiguredIssuerAudienceAndLeeway(t *testing.T) {
	v, err := NewVerifier(t.Context(), VerifierConfig{
		Secret:   testSecret,
		Issuer:   "https://id.example.com/",
		Audience: "roster-api",
		Leeway:   30 * time.Second,
		Now:      func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	good := with(claims(), func(m jwt.MapClaims) {
		m["iss"] = "https://id.example.com/"
		m["aud"] = []string{"other", "roster-api"}
		m["exp"] = testNow.Add(-10 * time.Second).Unix() // within the leeway
	})
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, testSecret, "", good)); err != nil {
		t.Errorf("token within leeway for the configured issuer and audience: %v", err)
	}
	// The defaults no longer apply once others are configured.
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, testSecret, "", claims())); !errors.Is(err, jwt.ErrTokenInvalidIssuer) {
		t.Errorf("token with the default issuer: err = %v, want invalid issuer", err)
	}
}

// jwksServer serves a JWKS with the given RSA and EC public keys.
func jwksServer(t *testing.T, rsaKID string, rsaPub *rsa.PublicKey, ecKID string, ecPub *ecdsa.PublicKey) *httptest.Server {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	// The uncompressed point: 0x04, then X and Y of 32 bytes each.
	point, err := ecPub.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]any{"keys": []map[string]string{
		{
			"kty": "RSA", "kid": rsaKID, "alg": "RS256", "use": "sig",
			"n": b64(rsaPub.N.Bytes()),
			"e": b64(big.NewInt(int64(rsaPub.E)).Bytes()),
		},
		{
			"kty": "EC", "kid": ecKID, "alg": "ES256", "use": "sig", "crv": "P-256",
			"x": b64(point[1:33]),
			"y": b64(point[33:65]),
		},
	}}
	body, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestVerifyWithJWKS(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	strangerKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	srv := jwksServer(t, "rsa-1", &rsaKey.PublicKey, "ec-1", &ecKey.PublicKey)

	v, err := NewVerifier(t.Context(), VerifierConfig{
		JWKSURL:    srv.URL + "/.well-known/jwks.json",
		HTTPClient: srv.Client(),
		Now:        func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	want := Claims{Subject: "acc-1", Email: "Ada@Example.com", EmailVerified: true}

	tests := []struct {
		name    string
		token   string
		wantErr error
	}{
		{name: "an RS256 token signed by a published key is accepted", token: sign(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims())},
		{name: "an ES256 token signed by a published key is accepted", token: sign(t, jwt.SigningMethodES256, ecKey, "ec-1", claims())},
		{name: "a token without kid is tried against every published key", token: sign(t, jwt.SigningMethodRS256, rsaKey, "", claims())},
		{name: "a token signed by an unpublished key is refused", token: sign(t, jwt.SigningMethodRS256, strangerKey, "rsa-1", claims()), wantErr: jwt.ErrTokenSignatureInvalid},
		{name: "a token naming an unknown kid is refused", token: sign(t, jwt.SigningMethodRS256, strangerKey, "nope", claims()), wantErr: jwt.ErrTokenUnverifiable},
		{name: "an HS256 token is refused by a JWKS-only verifier", token: sign(t, jwt.SigningMethodHS256, testSecret, "rsa-1", claims()), wantErr: jwt.ErrTokenSignatureInvalid},
		{name: "an expired RS256 token is refused", token: sign(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", with(claims(), func(m jwt.MapClaims) { m["exp"] = testNow.Add(-time.Hour).Unix() })), wantErr: jwt.ErrTokenExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(context.Background(), tt.token)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("claims (-want +got):\n%s", diff)
				}
				return
			}
			if !errors.Is(err, ErrUnauthenticated) || !errors.Is(err, tt.wantErr) {
				t.Errorf("Verify error = %v, want ErrUnauthenticated and %v", err, tt.wantErr)
			}
		})
	}
}

func TestVerifierWithSecretAndJWKSAcceptsBoth(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := jwksServer(t, "rsa-1", &rsaKey.PublicKey, "ec-1", &ecKey.PublicKey)
	v, err := NewVerifier(t.Context(), VerifierConfig{Secret: testSecret, JWKSURL: srv.URL, HTTPClient: srv.Client(), Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{
		"HS256": sign(t, jwt.SigningMethodHS256, testSecret, "", claims()),
		"RS256": sign(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims()),
	} {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Errorf("%s token: %v", name, err)
		}
	}
}

func TestNewVerifierRefusesBadConfig(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	tests := []struct {
		name string
		cfg  VerifierConfig
	}{
		{name: "neither secret nor JWKS", cfg: VerifierConfig{}},
		{name: "secret shorter than 32 bytes", cfg: VerifierConfig{Secret: []byte("short")}},
		{name: "negative leeway", cfg: VerifierConfig{Secret: testSecret, Leeway: -time.Second}},
		{name: "unreachable JWKS URL", cfg: VerifierConfig{JWKSURL: dead.URL}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewVerifier(t.Context(), tt.cfg); err == nil {
				t.Error("NewVerifier succeeded, want an error")
			}
		})
	}
}

func TestMint(t *testing.T) {
	tok, err := Mint(testSecret, "", "", "dev-owner", "owner@example.com", true, time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	got, err := hmacVerifier(t).Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("Verify minted token: %v", err)
	}
	if diff := cmp.Diff(Claims{Subject: "dev-owner", Email: "owner@example.com", EmailVerified: true}, got); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}

	bad := []struct {
		name       string
		secret     []byte
		sub, email string
		ttl        time.Duration
	}{
		{name: "short secret", secret: []byte("x"), sub: "a", email: "a@example.com", ttl: time.Hour},
		{name: "empty sub", secret: testSecret, email: "a@example.com", ttl: time.Hour},
		{name: "empty email", secret: testSecret, sub: "a", ttl: time.Hour},
		{name: "zero ttl", secret: testSecret, sub: "a", email: "a@example.com"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Mint(tt.secret, "", "", tt.sub, tt.email, true, tt.ttl, testNow); err == nil {
				t.Error("Mint succeeded, want an error")
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		header string
		want   string
		ok     bool
	}{
		{header: "Bearer abc.def.ghi", want: "abc.def.ghi", ok: true},
		{header: "bearer   abc ", want: "abc", ok: true},
		{header: "", ok: false},
		{header: "Bearer", ok: false},
		{header: "Bearer  ", ok: false},
		{header: "Basic dXNlcjpwYXNz", ok: false},
	}
	for _, tt := range tests {
		got, ok := BearerToken(tt.header)
		if got != tt.want || ok != tt.ok {
			t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}
