package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestEdgeRefusesPathsAndQueriesThatAreNotText: one check before every
// route answers 400 for a decoded path or query holding U+0000, invalid
// UTF-8 or a control character, or a query that cannot be parsed, naming
// the segment or parameter; no handler sees such a request.
func TestEdgeRefusesPathsAndQueriesThatAreNotText(t *testing.T) {
	tests := []struct {
		name, target string
		status       int
		code, detail string
	}{
		{"a property ID of U+0000 is an invalid path", "/v1/properties/%00", 400, "invalid_path", "path segment 3 holds U+0000"},
		{"an account ID of invalid UTF-8 is an invalid path", "/v1/properties/p1/members/%FF/permissions", 400, "invalid_path", "path segment 5 is not valid UTF-8"},
		{"an invitation ID with a control character is an invalid path", "/v1/properties/p1/invitations/i%071/resend", 400, "invalid_path", "control character U+0007"},
		{"a q holding U+0000 is an invalid query", "/v1/properties/p1/members?q=a%00b", 400, "invalid_query", "query parameter q holds U+0000"},
		{"an actor of invalid UTF-8 is an invalid query", "/v1/properties/p1/audit?actor=%C3", 400, "invalid_query", "query parameter actor is not valid UTF-8"},
		{"a member holding U+0000 is an invalid query", "/v1/properties/p1/audit?member=x%00", 400, "invalid_query", "query parameter member"},
		{"a C1 control character in a cursor is an invalid query", "/v1/properties/p1/members?cursor=%C2%85", 400, "invalid_query", "U+0085"},
		{"a parameter name holding U+0000 is an invalid query", "/v1/me/properties?%00=1", 400, "invalid_query", "parameter name holds U+0000"},
		{"a bad escape is an invalid query, not a dropped parameter", "/v1/properties/p1/members?q=%zz", 400, "invalid_query", "cannot be read"},
		{"a semicolon separator is an invalid query, not a dropped parameter", "/v1/properties/p1/members?role=admin;status=enabled", 400, "invalid_query", "cannot be read"},
		{"the probes are checked too, before any token", "/healthz?x=%00", 400, "invalid_query", "query parameter x"},
		{"an accented path reaches authentication", "/v1/properties/caf%C3%A9", 401, "unauthenticated", ""},
		{"an accented query reaches the route", "/healthz?q=%C3%A9t%C3%A9", 200, "", ""},
		{"a replacement character sent as such is text", "/healthz?q=%EF%BF%BD", 200, "", ""},
	}
	api := testAPI()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			api.ServeHTTP(w, httptest.NewRequest(http.MethodGet, tt.target, nil))
			if w.Code != tt.status {
				t.Fatalf("GET %s = %d %s, want %d", tt.target, w.Code, w.Body, tt.status)
			}
			if tt.code == "" {
				return
			}
			var p problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatalf("decode %s: %v", w.Body, err)
			}
			if p.Code != tt.code || !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("problem %q %q, want code %q and a detail saying %q", p.Code, p.Detail, tt.code, tt.detail)
			}
			if strings.ContainsRune(w.Body.String(), 0) || strings.Contains(p.Detail, "\x00") {
				t.Errorf("the answer echoes U+0000: %s", w.Body)
			}
		})
	}
}

func TestUserAgentIsKeptAsBoundedText(t *testing.T) {
	tests := []struct {
		name, header, want string
	}{
		{"a plain agent is kept", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"},
		{"letters beyond ASCII are kept", "Agent/1 (Zoë)", "Agent/1 (Zoë)"},
		{"invalid UTF-8 is dropped", "Agent\xff\xfe/1", "Agent/1"},
		{"a C1 control character is dropped", "Agent\u0085/1", "Agent/1"},
		{"a bidirectional override is dropped", "Agent\u202e1/", "Agent1/"},
		{"a zero-width space is dropped", "Age\u200bnt", "Agent"},
		{"a long agent is cut to 512 bytes", strings.Repeat("a", 600), strings.Repeat("a", 512)},
		{"a cut never splits a character", strings.Repeat("a", 511) + "é", strings.Repeat("a", 511)},
		{"no agent is none", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/properties", nil)
			r.Header.Set("User-Agent", tt.header)
			if got := userAgent(r); got != tt.want {
				t.Errorf("userAgent(%q) = %q, want %q", tt.header, got, tt.want)
			}
		})
	}
}
