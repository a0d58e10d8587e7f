package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// signRaw signs payload as it is, byte for byte, so a test can send what
// json.Marshal would never write (invalid UTF-8, quoted numbers...).
func signRaw(t *testing.T, payload string) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	unsigned := enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(payload))
	sig, err := jwt.SigningMethodHS256.Sign(unsigned, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return unsigned + "." + enc(sig)
}

// payload is the JSON of valid claims for testNow with the given members
// replaced, added or (with an empty value) removed; values are raw JSON.
func payload(edit map[string]string) string {
	fields := map[string]string{
		"iss": `"roster"`, "aud": `"roster"`, "sub": `"acc-1"`, "email": `"ada@example.com"`, "email_verified": `true`,
		"iat": strconv.FormatInt(testNow.Add(-time.Minute).Unix(), 10), "exp": strconv.FormatInt(testNow.Add(time.Hour).Unix(), 10),
	}
	for k, v := range edit {
		if v == "" {
			delete(fields, k)
			continue
		}
		fields[k] = v
	}
	names := slices.Sorted(maps.Keys(fields))
	var parts []string
	for _, k := range names {
		parts = append(parts, `"`+k+`":`+fields[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func quoted(n int64) string { return `"` + strconv.FormatInt(n, 10) + `"` }

// TestVerifyRefusesClaimsItCannotTrustOrStore: every claim Roster uses is
// read as the type RFC 7519 and OpenID Connect give it, bounded, and made
// of text PostgreSQL can store; the error names the claim.
func TestVerifyRefusesClaimsItCannotTrustOrStore(t *testing.T) {
	v := hmacVerifier(t)
	long := func(n int) string { return `"` + strings.Repeat("a", n) + `"` }
	now := testNow.Unix()
	tests := []struct {
		name  string
		edit  map[string]string
		claim string // the claim the error must name
	}{
		{"a sub holding U+0000 is refused", map[string]string{"sub": `"acc\u0000"`}, "sub"},
		{"a sub of invalid UTF-8 is refused", map[string]string{"sub": "\"acc\xff\xfe\""}, "sub"},
		{"a sub holding a lone surrogate is refused", map[string]string{"sub": `"acc\ud800"`}, "sub"},
		{"a sub holding a C1 control character is refused", map[string]string{"sub": "\"acc\u0085\""}, "sub"},
		{"a sub holding DEL is refused", map[string]string{"sub": `"acc\u007f"`}, "sub"},
		{"a sub holding a newline is refused", map[string]string{"sub": `"acc\n1"`}, "sub"},
		{"a sub of 256 bytes is refused", map[string]string{"sub": long(256)}, "sub"},
		{"a blank sub is refused", map[string]string{"sub": `"   "`}, "sub"},
		{"a sub of ideographic spaces is refused", map[string]string{"sub": `"\u3000\u3000"`}, "sub"},
		{"a sub that is a number is refused", map[string]string{"sub": `42`}, "sub"},
		{"an email holding U+0000 is refused", map[string]string{"email": `"ada@example.com\u0000"`}, "email"},
		{"an email of invalid UTF-8 is refused", map[string]string{"email": "\"ada@ex\xc3ample.com\""}, "email"},
		{"an email of 255 bytes is refused", map[string]string{"email": `"` + strings.Repeat("a", 243) + `@example.com"`}, "email"},
		{"an email that is null is refused", map[string]string{"email": `null`}, "email"},
		{"email_verified as the string true is refused", map[string]string{"email_verified": `"true"`}, "email_verified"},
		{"email_verified as the string 1 is refused", map[string]string{"email_verified": `"1"`}, "email_verified"},
		{"email_verified as the string T is refused", map[string]string{"email_verified": `"T"`}, "email_verified"},
		{"email_verified as the number 1 is refused", map[string]string{"email_verified": `1`}, "email_verified"},
		{"email_verified as null is refused", map[string]string{"email_verified": `null`}, "email_verified"},
		{"exp as a quoted number is refused", map[string]string{"exp": quoted(now + 3600)}, "exp"},
		{"nbf as a quoted number is refused", map[string]string{"nbf": quoted(now - 60)}, "nbf"},
		{"iat as a quoted number is refused", map[string]string{"iat": quoted(now - 60)}, "iat"},
		{"exp beyond the year 9999 is refused", map[string]string{"exp": `1e300`}, "exp"},
		{"a negative iat is refused", map[string]string{"iat": `-1`}, "iat"},
		{"exp more than the maximum lifetime after iat is refused", map[string]string{"exp": strconv.FormatInt(now-60+25*3600, 10)}, "exp"},
		{"an iss holding U+0000 is refused", map[string]string{"iss": `"roster\u0000"`}, "iss"},
		{"an iss over 1024 bytes is refused", map[string]string{"iss": long(1025)}, "iss"},
		{"an aud of 17 entries is refused", map[string]string{"aud": `["roster"` + strings.Repeat(`,"x"`, 16) + `]`}, "aud"},
		{"an aud that is a number is refused", map[string]string{"aud": `7`}, "aud"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(context.Background(), signRaw(t, payload(tt.edit)))
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("Verify = %+v, %v; want a refusal wrapping ErrUnauthenticated", got, err)
			}
			var ce *ClaimError
			if !errors.As(err, &ce) || ce.Claim != tt.claim {
				t.Fatalf("Verify error = %v, want a ClaimError naming %s", err, tt.claim)
			}
			if !strings.Contains(err.Error(), "claim "+tt.claim+" ") {
				t.Errorf("message %q does not name claim %s", err, tt.claim)
			}
			if strings.ContainsRune(err.Error(), 0) || strings.Contains(err.Error(), strings.Repeat("a", 200)) {
				t.Errorf("message %q echoes the bad value", err)
			}
		})
	}
}

func TestVerifyRequiresAndBoundsWhatItStores(t *testing.T) {
	v := hmacVerifier(t)
	tests := []struct {
		name    string
		token   string
		wantErr error // nil: accepted
	}{
		{"a sub of exactly 255 bytes is accepted", signRaw(t, payload(map[string]string{"sub": `"` + strings.Repeat("s", 255) + `"`})), nil},
		{"an email of exactly 254 bytes is accepted", signRaw(t, payload(map[string]string{"email": `"` + strings.Repeat("a", 242) + `@example.com"`})), nil},
		{"a sub with letters beyond ASCII is accepted", signRaw(t, payload(map[string]string{"sub": `"Zoë|ünïcode"`})), nil},
		{"a lifetime of exactly the maximum is accepted", signRaw(t, payload(map[string]string{"exp": strconv.FormatInt(testNow.Unix()-60+24*3600, 10)})), nil},
		{"a fractional exp, as RFC 7519 allows, is accepted", signRaw(t, payload(map[string]string{"exp": strconv.FormatInt(testNow.Unix()+60, 10) + ".5"})), nil},
		{"claims Roster does not use are ignored", signRaw(t, payload(map[string]string{"name": `5`, "groups": `{"a":"\u0000"}`})), nil},
		{"a token without iat is refused", signRaw(t, payload(map[string]string{"iat": ""})), jwt.ErrTokenRequiredClaimMissing},
		{"a token with an empty sub is refused", signRaw(t, payload(map[string]string{"sub": `""`})), jwt.ErrTokenRequiredClaimMissing},
		{"a token over 8 KiB is refused before it is parsed", signRaw(t, payload(map[string]string{"pad": `"` + strings.Repeat("p", 9000) + `"`})), ErrUnauthenticated},
		{"a sub of 10 KB is refused", signRaw(t, payload(map[string]string{"sub": `"` + strings.Repeat("s", 10000) + `"`})), ErrUnauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tt.token)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrUnauthenticated) || !errors.Is(err, tt.wantErr) {
				t.Errorf("Verify error = %v, want ErrUnauthenticated and %v", err, tt.wantErr)
			}
		})
	}
}

func TestVerifyBoundsLifetimeAsConfigured(t *testing.T) {
	short, err := NewVerifier(t.Context(), VerifierConfig{Secret: testSecret, MaxLifetime: time.Hour, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	twoHours := sign(t, jwt.SigningMethodHS256, testSecret, "", with(claims(), func(m jwt.MapClaims) { m["exp"] = testNow.Add(2 * time.Hour).Unix() }))
	var ce *ClaimError
	if _, err := short.Verify(context.Background(), twoHours); !errors.As(err, &ce) || ce.Claim != "exp" {
		t.Errorf("a 2h token under a 1h maximum: err = %v, want a ClaimError naming exp", err)
	}
	if _, err := hmacVerifier(t).Verify(context.Background(), twoHours); err != nil {
		t.Errorf("a 2h token under the default maximum of %s: %v", DefaultMaxLifetime, err)
	}
	if _, err := NewVerifier(t.Context(), VerifierConfig{Secret: testSecret, MaxLifetime: -time.Second}); err == nil {
		t.Error("NewVerifier with a negative maximum lifetime succeeded, want an error")
	}
}

func TestMintRefusesWhatVerifyWould(t *testing.T) {
	tests := []struct {
		name, sub, email string
	}{
		{"a sub holding U+0000", "acc\x00", "a@example.com"},
		{"a blank sub", "  ", "a@example.com"},
		{"a sub of 256 bytes", strings.Repeat("s", 256), "a@example.com"},
		{"a sub of invalid UTF-8", "acc\xff", "a@example.com"},
		{"an email holding a control character", "acc", "a@example.com\x07"},
		{"an email of 255 bytes", "acc", strings.Repeat("a", 243) + "@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tok, err := Mint(testSecret, "", "", tt.sub, tt.email, true, time.Hour, testNow); err == nil {
				t.Errorf("Mint = %s, want an error", tok)
			}
		})
	}
}
