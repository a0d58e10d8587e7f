package main

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// rawToken signs claims, a JSON object written out byte for byte, with the
// test secret, so a test can send claims json.Marshal would never write.
func rawToken(t *testing.T, claims string) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	unsigned := enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(claims))
	sig, err := jwt.SigningMethodHS256.Sign(unsigned, []byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return unsigned + "." + enc(sig)
}

// claimsJSON is the JSON of a valid token's claims for sub and email,
// issued a minute ago for an hour, with fields replaced by raw JSON values.
func claimsJSON(sub, email string, replace map[string]string) string {
	now := time.Now().Unix()
	fields := []string{"iss", "aud", "sub", "email", "email_verified", "iat", "exp"}
	values := map[string]string{
		"iss": `"roster"`, "aud": `"roster"`, "sub": strconv.Quote(sub), "email": strconv.Quote(email), "email_verified": "true",
		"iat": strconv.FormatInt(now-60, 10), "exp": strconv.FormatInt(now+3600, 10),
	}
	for k, v := range replace {
		values[k] = v
	}
	parts := make([]string, 0, len(fields))
	for _, f := range fields {
		parts = append(parts, `"`+f+`":`+values[f])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// TestTokensWithClaimsThatCannotBeStoredWriteNothing: a token whose claims
// could not be stored and projected (U+0000, invalid UTF-8, over-long), or
// that are not of their JSON type, or that lives too long, is refused with
// 401 naming the claim, before any command runs: the stream and the read
// models stay as they were, so no projection can stall on such a value.
func TestTokensWithClaimsThatCannotBeStoredWriteNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p := "/v1/properties/" + f.pid
	ag := f.agent
	now := time.Now().Unix()
	tok := func(replace map[string]string) string { return rawToken(t, claimsJSON(ag.ID, ag.Email, replace)) }
	create := `{"name":"Mine"}`
	tokens := []struct {
		name, method, path, body, token, detail string
	}{
		{"a sub holding U+0000 creates no property", "POST", "/v1/properties", create, tok(map[string]string{"sub": `"` + uuid.NewString() + `\u0000"`}), "claim sub"},
		{"an email holding U+0000 creates no property", "POST", "/v1/properties", create, tok(map[string]string{"email": `"mallory@example.com\u0000"`}), "claim email"},
		{"an unverified email ending in U+0000 cannot leave", "POST", p + "/leave", "", tok(map[string]string{"email": `"` + ag.Email + `\u0000"`, "email_verified": "false"}), "claim email"},
		{"a sub of invalid UTF-8 creates no property", "POST", "/v1/properties", create, tok(map[string]string{"sub": "\"acc\xff\""}), "claim sub"},
		{"a sub holding a C1 control character creates no property", "POST", "/v1/properties", create, tok(map[string]string{"sub": `"acc\u0085"`}), "claim sub"},
		{"a blank sub creates no property", "POST", "/v1/properties", create, tok(map[string]string{"sub": `"   "`}), "claim sub is blank"},
		{"a sub of 300 bytes creates no property", "POST", "/v1/properties", create, tok(map[string]string{"sub": `"` + strings.Repeat("s", 300) + `"`}), "claim sub is 300 bytes"},
		{"a sub of 10 KB creates no property", "POST", "/v1/properties", create, tok(map[string]string{"sub": `"` + strings.Repeat("s", 10000) + `"`}), "longer than 8192"},
		{"an email of 300 bytes creates no property", "POST", "/v1/properties", create, tok(map[string]string{"email": `"` + strings.Repeat("e", 288) + `@example.com"`}), "claim email"},
		{"email_verified as a string accepts nothing", "POST", "/v1/invitations/accept", `{"token":"` + f.pendingToken + `"}`, rawToken(t, claimsJSON(f.invitee.ID, f.invitee.Email, map[string]string{"email_verified": `"true"`})), "claim email_verified"},
		{"email_verified as 1 accepts nothing", "POST", "/v1/invitations/accept", `{"token":"` + f.pendingToken + `"}`, rawToken(t, claimsJSON(f.invitee.ID, f.invitee.Email, map[string]string{"email_verified": `1`})), "claim email_verified"},
		{"an exp as a string is refused", "POST", p + "/leave", "", tok(map[string]string{"exp": `"` + strconv.FormatInt(now+3600, 10) + `"`}), "claim exp"},
		{"a token living longer than the maximum is refused", "POST", p + "/leave", "", tok(map[string]string{"exp": strconv.FormatInt(now+48*3600, 10)}), "claim exp"},
		{"a token without iat is refused", "POST", p + "/leave", "", rawToken(t, strings.Replace(claimsJSON(ag.ID, ag.Email, nil), `"iat":`, `"x":`, 1)), "iat"},
	}
	var reqs []badRequest
	for _, tk := range tokens {
		var body any
		if tk.body != "" {
			body = tk.body
		}
		reqs = append(reqs, badRequest{name: tk.name, method: tk.method, path: tk.path, token: tk.token, body: body,
			status: http.StatusUnauthorized, code: "unauthenticated", detail: tk.detail})
	}
	f.refuseAll(t, reqs)
}

// TestPathsAndQueriesThatAreNotTextAre400: NUL, invalid UTF-8 or control
// characters in a path segment or query parameter are refused at the edge
// with 400 and a code, on queries and commands alike, and write nothing;
// a cursor holding U+0000 once decoded is refused as no cursor this API
// gave out. None is a 500.
func TestPathsAndQueriesThatAreNotTextAre400(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	o := f.owner.Token
	p := "/v1/properties/" + f.pid
	nulCursor := base64.RawURLEncoding.EncodeToString([]byte(`{"e":"a\u0000","a":"b"}`))
	reqs := []badRequest{
		{name: "a property ID of U+0000", method: "GET", path: "/v1/properties/%00", token: o, status: 400, code: "invalid_path", detail: "U+0000"},
		{name: "an account ID of invalid UTF-8", method: "GET", path: p + "/members/%FF/permissions", token: o, status: 400, code: "invalid_path", detail: "not valid UTF-8"},
		{name: "a member history of an account holding U+0000", method: "GET", path: p + "/members/a%00/history", token: o, status: 400, code: "invalid_path", detail: "U+0000"},
		{name: "a q holding U+0000", method: "GET", path: p + "/members?q=a%00b", token: o, status: 400, code: "invalid_query", detail: "query parameter q"},
		{name: "an audit actor of invalid UTF-8", method: "GET", path: p + "/audit?actor=%FF", token: o, status: 400, code: "invalid_query", detail: "query parameter actor"},
		{name: "an audit member holding U+0000", method: "GET", path: p + "/audit?member=%00", token: o, status: 400, code: "invalid_query", detail: "query parameter member"},
		{name: "an invitation status holding U+0000", method: "GET", path: p + "/invitations?status=pending%00", token: o, status: 400, code: "invalid_query", detail: "query parameter status"},
		{name: "a notifications cursor of invalid UTF-8", method: "GET", path: "/v1/me/notifications?cursor=%C3%28", token: o, status: 400, code: "invalid_query", detail: "query parameter cursor"},
		{name: "a member cursor holding U+0000 once decoded", method: "GET", path: p + "/members?cursor=" + nulCursor, token: o, status: 422, code: "invalid_request", detail: "cursor"},
		{name: "an audit cursor holding U+0000 once decoded", method: "GET", path: p + "/audit?cursor=" + base64.RawURLEncoding.EncodeToString([]byte(`{"t":1,"r":1,"x":"\u0000"}`)), token: o, status: 422, code: "invalid_request", detail: "cursor"},
		{name: "a command on a property ID of invalid UTF-8", method: "POST", path: "/v1/properties/%FF/leave", token: f.agent.Token, status: 400, code: "invalid_path", detail: "not valid UTF-8"},
		{name: "a command on an account ID holding U+0000", method: "PUT", path: p + "/members/%00/role", token: o, body: `{"role":"admin"}`, status: 400, code: "invalid_path", detail: "U+0000"},
		{name: "a command on an invitation ID holding U+0000", method: "POST", path: p + "/invitations/%00/resend", token: o, status: 400, code: "invalid_path", detail: "U+0000"},
		{name: "a path holding U+0000 is refused before the token", method: "GET", path: "/v1/properties/%00", status: 400, code: "invalid_path", detail: "U+0000"},
	}
	f.refuseAll(t, reqs)
}

// TestUserAgentIsStoredAsBoundedText: a User-Agent is never a reason to
// refuse a command, but what the events keep of it is text PostgreSQL and
// the audit export can hold: invalid UTF-8 and control or format
// characters dropped, cut to 512 bytes.
func TestUserAgentIsStoredAsBoundedText(t *testing.T) {
	t.Parallel()
	app := startApp(t)
	owner := app.user(t, "owner")
	ua := "Agent\xff\u0085\u202e/1 " + strings.Repeat("a", 600)
	ans := app.command(t, http.MethodPost, "/v1/properties", owner.Token, map[string]string{"name": "Agents"},
		map[string]string{"User-Agent": ua}, http.StatusCreated)
	var page auditPageView
	app.read(t, "/v1/properties/"+ans.PropertyID+"/audit", owner.Token, ans.Position).want(t, http.StatusOK).into(t, &page)
	if len(page.Entries) == 0 {
		t.Fatal("no audit entries for the new property")
	}
	want := ("Agent/1 " + strings.Repeat("a", 600))[:512]
	for _, e := range page.Entries {
		if e.Actor.UserAgent != want {
			t.Errorf("%s keeps user agent %q (%d bytes), want %q (%d bytes)", e.Type, e.Actor.UserAgent, len(e.Actor.UserAgent), want, len(want))
		}
	}
}
