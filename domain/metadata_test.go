package domain_test

import (
	"encoding/json"
	"testing"

	"github.com/rosterhq/roster/domain"
)

// Only a verified email may be shown as who acted; an unverified one is
// shown by the account ID instead, and an event from before verification
// was recorded reads as it always did.
func TestShownActorEmailIsOnlyAVerifiedOne(t *testing.T) {
	tests := []struct {
		name, metadata, want string
	}{
		{"a verified email is shown",
			`{"actor_id":"acc-1","actor_email":"ann@example.com","actor_email_verified":true}`, "ann@example.com"},
		{"an unverified email is not",
			`{"actor_id":"acc-1","actor_email":"ceo@example.com","actor_email_verified":false}`, ""},
		{"an event written before verification was recorded shows its email as before",
			`{"actor_id":"acc-1","actor_email":"ann@example.com"}`, "ann@example.com"},
		{"no email shows none", `{"actor_id":"acc-1","actor_email":"","actor_email_verified":true}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m domain.Metadata
			if err := json.Unmarshal([]byte(tt.metadata), &m); err != nil {
				t.Fatal(err)
			}
			if got := m.ShownActorEmail(); got != tt.want {
				t.Errorf("ShownActorEmail() = %q, want %q", got, tt.want)
			}
		})
	}
}

// An unverified actor is written down as such, not dropped by omitempty, so
// it cannot read as an event from before verification was recorded.
func TestMetadataKeepsAnUnverifiedEmailUnverified(t *testing.T) {
	no := false
	raw, err := json.Marshal(domain.Metadata{ActorID: "acc-1", ActorEmail: "ceo@example.com", ActorEmailVerified: &no})
	if err != nil {
		t.Fatal(err)
	}
	var back domain.Metadata
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if back.ActorEmailVerified == nil || *back.ActorEmailVerified || back.ShownActorEmail() != "" {
		t.Errorf("metadata %s reads back verified %v, shown %q; want false and nothing shown", raw, back.ActorEmailVerified, back.ShownActorEmail())
	}
}
