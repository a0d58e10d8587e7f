package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rosterhq/roster/domain"
)

func metaRequest(method, path string, header map[string]string) *http.Request {
	r := httptest.NewRequest(method, path, nil)
	r.RemoteAddr = "192.0.2.7:53211"
	r.Header.Set("User-Agent", "dashboard/1.0")
	for k, v := range header {
		r.Header.Set(k, v)
	}
	ctx := context.WithValue(r.Context(), actorKey, domain.Actor{AccountID: "a1", Email: "a@example.com"})
	return r.WithContext(context.WithValue(ctx, requestIDKey, "req-1"))
}

func TestCommandMetaReadsIfMatch(t *testing.T) {
	tests := []struct {
		name, header string
		want         *uint64 // nil: no precondition
		refused      bool
	}{
		{"no header sets no precondition", "", nil, false},
		{"a star sets no precondition", "*", nil, false},
		{"a quoted revision as the ETag gives it", `"7"`, ptr(7), false},
		{"revision zero is a revision", `"0"`, ptr(0), false},
		{"a bare number is read too", "12", ptr(12), false},
		{"a word is refused", `"abc"`, nil, true},
		{"a negative number is refused", `"-1"`, nil, true},
		{"a list of revisions is refused", `"1", "2"`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := commandMeta(metaRequest(http.MethodPost, "/v1/properties/p1/leave", map[string]string{"If-Match": tt.header}), nil)
			if tt.refused {
				wantDomainError(t, err, domain.KindMalformed, domain.CodeInvalidHeader, "If-Match")
				return
			}
			if err != nil {
				t.Fatalf("commandMeta: %v", err)
			}
			if (m.IfMatch == nil) != (tt.want == nil) || (m.IfMatch != nil && *m.IfMatch != *tt.want) {
				t.Errorf("IfMatch = %v, want %v", deref64(m.IfMatch), deref64(tt.want))
			}
		})
	}
}

func TestIfMatchWithAWeakETagNeverMatches(t *testing.T) {
	_, err := commandMeta(metaRequest(http.MethodPost, "/v1/properties/p1/leave", map[string]string{"If-Match": `W/"7"`}), nil)
	wantDomainError(t, err, domain.KindPrecondition, domain.CodeStaleRevision, "weak")
}

func TestCommandMetaReadsTheIdempotencyKey(t *testing.T) {
	tests := []struct {
		name, key string
		refused   bool
	}{
		{"no key is no key", "", false},
		{"a plain key is taken", "invite-2024-06-01", false},
		{"a key of 200 characters is taken", strings.Repeat("k", 200), false},
		{"a key of 201 characters is refused", strings.Repeat("k", 201), true},
		{"a key with a space is refused", "two words", true},
		{"a key with a non-ASCII letter is refused", "clé", true},
		{"a key with a control character is refused", "a\tb", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := commandMeta(metaRequest(http.MethodPost, "/v1/properties", map[string]string{"Idempotency-Key": tt.key}), []byte(`{}`))
			if tt.refused {
				wantDomainError(t, err, domain.KindMalformed, domain.CodeInvalidHeader, "Idempotency-Key")
				return
			}
			if err != nil {
				t.Fatalf("commandMeta: %v", err)
			}
			if m.IdempotencyKey != tt.key || (m.RequestHash == "") != (tt.key == "") {
				t.Errorf("key %q, hash %q: want key %q with a hash exactly when there is a key", m.IdempotencyKey, m.RequestHash, tt.key)
			}
		})
	}
}

func TestCommandMetaFingerprintsTheRequest(t *testing.T) {
	hash := func(method, path, body string) string {
		m, err := commandMeta(metaRequest(method, path, map[string]string{"Idempotency-Key": "k"}), []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return m.RequestHash
	}
	base := hash(http.MethodPost, "/v1/properties/p1/invitations", `{"email":"a@example.com"}`)
	if base != hash(http.MethodPost, "/v1/properties/p1/invitations", `{"email":"a@example.com"}`) {
		t.Error("the same request hashes differently")
	}
	for name, other := range map[string]string{
		"another body":   hash(http.MethodPost, "/v1/properties/p1/invitations", `{"email":"b@example.com"}`),
		"another path":   hash(http.MethodPost, "/v1/properties/p2/invitations", `{"email":"a@example.com"}`),
		"another method": hash(http.MethodPut, "/v1/properties/p1/invitations", `{"email":"a@example.com"}`),
	} {
		if other == base {
			t.Errorf("%s hashes like the first request", name)
		}
	}
	m, _ := commandMeta(metaRequest(http.MethodPost, "/v1/properties", nil), nil)
	if m.Actor.AccountID != "a1" || m.CorrelationID != "req-1" || m.ClientIP != "192.0.2.7" || m.UserAgent != "dashboard/1.0" {
		t.Errorf("meta %+v, want actor a1, correlation req-1, client 192.0.2.7, agent dashboard/1.0", m)
	}
}

func ptr(n uint64) *uint64 { return &n }

func deref64(p *uint64) any {
	if p == nil {
		return nil
	}
	return *p
}
