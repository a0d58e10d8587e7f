package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/pgtest"
	"github.com/rosterhq/roster/infra/privacy"
)

// privacyAPI is the API with f behind the privacy route and one operator,
// op-1. A token is taken for the account ID it names.
func privacyAPI(f Forgetter) http.Handler {
	return New(Config{Log: zerolog.Nop(), Privacy: PrivacyConfig{Forgetter: f, Operators: []string{"op-1"}},
		Authenticate: func(_ context.Context, raw string) (domain.Actor, error) {
			return domain.Actor{AccountID: raw, Email: raw + "@example.com", EmailVerified: true}, nil
		}})
}

func forgetRequestTo(token, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/v1/admin/privacy/forget", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

// sealedInvitation is an invitation of email, sealed by v as the executor
// stores it.
func sealedInvitation(t *testing.T, v *privacy.Vault, email string) eventstore.RecordedEvent {
	t.Helper()
	typ, data, err := domain.EncodeEvent(domain.MemberInvited{Schema: 1, InvitationID: uuid.NewString(), Email: email,
		Role: domain.RoleAgent, InvitedBy: "op-1", ExpiresAt: time.Now().Add(time.Hour), TokenNonce: "n"})
	if err != nil {
		t.Fatal(err)
	}
	events := []eventstore.EventData{{ID: uuid.NewString(), Type: typ, Data: data,
		Metadata: []byte(`{"actor_id":"op-1","actor_email":"op-1@example.com"}`)}}
	if err := v.Seal(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	return eventstore.RecordedEvent{ID: events[0].ID, Type: typ, Data: events[0].Data, Metadata: events[0].Metadata}
}

// invitee is the email an invitation opens to now.
func invitee(t *testing.T, v *privacy.Vault, rec eventstore.RecordedEvent) string {
	t.Helper()
	recs := []eventstore.RecordedEvent{rec}
	if err := v.Open(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	e, err := domain.DecodeEvent(recs[0].Type, recs[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	return e.(domain.MemberInvited).Email
}

// TestForgetIsForOperatorsAndSaysWhatItDid: an operator's request forgets
// the person and answers the document's 200; anyone else, and every
// request that cannot be read, is refused and forgets nobody.
func TestForgetIsForOperatorsAndSaysWhatItDid(t *testing.T) {
	v := privacy.NewVault(pgtest.NewPool(t))
	ann, bob := sealedInvitation(t, v, "ann@example.com"), sealedInvitation(t, v, "bob@example.com")
	api := privacyAPI(v)
	doc := loadOpenAPI(t, openAPIYAML)
	okSchema := doc.Paths.Find("/v1/admin/privacy/forget").Post.Responses.Status(http.StatusOK).Value.
		Content.Get("application/json").Schema.Value

	refusals := []struct {
		name, token, body string
		status            int
		code              string
	}{
		{"no token", "", `{"email":"bob@example.com"}`, http.StatusUnauthorized, "unauthenticated"},
		{"an account that is no operator", "acc-2", `{"email":"bob@example.com"}`, http.StatusForbidden, "forbidden"},
		{"a body that is not JSON", "op-1", `{"email":`, http.StatusBadRequest, "malformed_json"},
		{"an unknown field", "op-1", `{"email":"bob@example.com","all":true}`, http.StatusBadRequest, "unknown_field"},
		{"no email", "op-1", `{}`, http.StatusUnprocessableEntity, "invalid_request"},
		{"an email that is no address", "op-1", `{"email":"bob at example"}`, http.StatusUnprocessableEntity, "invalid_email"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			api.ServeHTTP(w, forgetRequestTo(tt.token, tt.body))
			if w.Code != tt.status || !strings.Contains(w.Body.String(), `"code":"`+tt.code+`"`) {
				t.Fatalf("answer %d %s, want %d %s", w.Code, w.Body, tt.status, tt.code)
			}
		})
	}
	if got := invitee(t, v, bob); got != "bob@example.com" {
		t.Fatalf("a refused request forgot Bob: his invitation opens as %q", got)
	}

	for _, want := range []struct {
		name   string
		erased bool
	}{{"an operator forgets Ann", true}, {"and again: nothing left to erase", false}} {
		t.Run(want.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			api.ServeHTTP(w, forgetRequestTo("op-1", `{"email":" Ann@Example.com "}`))
			if w.Code != http.StatusOK {
				t.Fatalf("answer %d %s, want 200", w.Code, w.Body)
			}
			var body any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if err := okSchema.VisitJSON(body); err != nil {
				t.Errorf("the answer does not match the document: %v\n%s", err, w.Body)
			}
			var f privacy.Forgotten
			if err := json.Unmarshal(w.Body.Bytes(), &f); err != nil {
				t.Fatal(err)
			}
			if f.Email != "ann@example.com" || f.Erased != want.erased {
				t.Errorf("answer %+v, want ann@example.com with erased %v", f, want.erased)
			}
		})
	}
	if got := invitee(t, v, ann); !privacy.IsErasedEmail(got) {
		t.Errorf("Ann's invitation opens as %q after the forget, want an erased address", got)
	}
	if got := invitee(t, v, bob); got != "bob@example.com" {
		t.Errorf("forgetting Ann forgot Bob: his invitation opens as %q", got)
	}
}

func TestForgetWithoutAVaultIsUnavailable(t *testing.T) {
	w := httptest.NewRecorder()
	privacyAPI(nil).ServeHTTP(w, forgetRequestTo("op-1", `{"email":"ann@example.com"}`))
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), `"code":"not_ready"`) {
		t.Errorf("answer %d %s, want 503 not_ready", w.Code, w.Body)
	}
}
