package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

// serviceClaimsFor returns valid wire claims of a client-credentials token
// for testNow; cases change what they test.
func serviceClaimsFor() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": DefaultIssuer, "aud": DefaultAudience, "sub": "chat-router@clients", "client_id": "chat-router",
		"scope": "openid roster:check", "iat": testNow.Add(-time.Minute).Unix(), "exp": testNow.Add(time.Hour).Unix(),
	}
}

func TestVerifyServiceTellsServicesFromPeople(t *testing.T) {
	v := hmacVerifier(t)
	tests := []struct {
		name   string
		claims jwt.MapClaims
		scope  string
		want   Service
		err    error
	}{
		{"a client-credentials token with the scope names its client", serviceClaimsFor(), "",
			Service{Name: "chat-router", Scopes: []string{"openid", "roster:check"}, ExpiresAt: testNow.Add(time.Hour)}, nil},
		{"without client_id the subject names the service", with(serviceClaimsFor(), func(m jwt.MapClaims) { delete(m, "client_id") }), "",
			Service{Name: "chat-router@clients", Scopes: []string{"openid", "roster:check"}, ExpiresAt: testNow.Add(time.Hour)}, nil},
		{"scp as an array counts as the scopes", with(serviceClaimsFor(), func(m jwt.MapClaims) {
			delete(m, "scope")
			m["scp"] = []string{"roster:check"}
		}), "", Service{Name: "chat-router", Scopes: []string{"roster:check"}, ExpiresAt: testNow.Add(time.Hour)}, nil},
		{"a configured scope is the one asked for", with(serviceClaimsFor(), func(m jwt.MapClaims) { m["scope"] = "checks.read" }), "checks.read",
			Service{Name: "chat-router", Scopes: []string{"checks.read"}, ExpiresAt: testNow.Add(time.Hour)}, nil},
		{"a token without the scope is refused", with(serviceClaimsFor(), func(m jwt.MapClaims) { m["scope"] = "openid" }), "",
			Service{}, ErrScopeMissing},
		{"a person's token is never a service's", claims(), "", Service{}, ErrPersonToken},
		{"a person's token with the scope is still a person's", with(claims(), func(m jwt.MapClaims) { m["scope"] = "roster:check" }), "",
			Service{}, ErrPersonToken},
		{"a scope that is not a string is refused", with(serviceClaimsFor(), func(m jwt.MapClaims) { m["scope"] = 7 }), "",
			Service{}, ErrUnauthenticated},
		{"a client_id with a control character is refused", with(serviceClaimsFor(), func(m jwt.MapClaims) { m["client_id"] = "a\u0007b" }), "",
			Service{}, ErrUnauthenticated},
		{"an expired service token is refused", with(serviceClaimsFor(), func(m jwt.MapClaims) { m["exp"] = testNow.Add(-time.Hour).Unix() }), "",
			Service{}, ErrUnauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.VerifyService(context.Background(), sign(t, jwt.SigningMethodHS256, testSecret, "", tt.claims), tt.scope)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("VerifyService error %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("VerifyService: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("service (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMintServiceGivesATokenVerifyServiceTakesAndVerifyRefuses(t *testing.T) {
	v := hmacVerifier(t)
	tok, err := MintService(testSecret, "", "", "tickets", "", time.Hour, testNow)
	if err != nil {
		t.Fatalf("MintService: %v", err)
	}
	got, err := v.VerifyService(context.Background(), tok, "")
	if err != nil {
		t.Fatalf("VerifyService: %v", err)
	}
	if diff := cmp.Diff(Service{Name: "tickets", Scopes: []string{DefaultServiceScope}, ExpiresAt: testNow.Add(time.Hour)}, got); diff != "" {
		t.Errorf("service (-want +got):\n%s", diff)
	}
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, jwt.ErrTokenRequiredClaimMissing) {
		t.Errorf("Verify of a service token: %v, want a missing email", err)
	}
	for _, bad := range []struct {
		name, service string
		secret        []byte
		ttl           time.Duration
	}{{"no name", "", testSecret, time.Hour}, {"a short secret", "tickets", []byte("short"), time.Hour}, {"no lifetime", "tickets", testSecret, 0}} {
		if _, err := MintService(bad.secret, "", "", bad.service, "", bad.ttl, testNow); err == nil {
			t.Errorf("MintService with %s minted a token", bad.name)
		}
	}
}

func TestServiceCacheTakesAnAcceptedTokenAgainUntilItsTimeIsUp(t *testing.T) {
	clock := testNow
	v, err := NewVerifier(context.Background(), VerifierConfig{Secret: testSecret, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	c := NewServiceCache(v, "", func() time.Time { return clock })
	tok, err := MintService(testSecret, "", "", "tickets", "", 90*time.Second, testNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		name  string
		at    time.Duration
		token string
		ok    bool
	}{
		{"a good token is verified", 0, tok, true},
		{"and taken again from the cache", 30 * time.Second, tok, true},
		{"verified again after a minute, still good", 61 * time.Second, tok, true},
		{"never past its exp, however recently verified", 91 * time.Second, tok, false},
		{"a refused token is never remembered", 0, tok + "x", false},
	} {
		clock = testNow.Add(step.at)
		svc, err := c.Verify(context.Background(), step.token)
		if (err == nil) != step.ok || (step.ok && svc.Name != "tickets") {
			t.Errorf("%s: Verify at +%s = %+v, %v", step.name, step.at, svc, err)
		}
	}
}
