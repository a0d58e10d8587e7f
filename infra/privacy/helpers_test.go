package privacy

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
)

// chainTail stands for the hash chain's fields, which another part appends
// to the stored metadata after Seal: Open must hand them back untouched.
const chainTail = `,"prev_hash":"9f2c","hash":"41aa"}`

// actor is who an event's metadata names.
type actor struct {
	id, email, ip, ua string
}

var (
	ann = actor{id: "acc-ann", email: "ann@example.com", ip: "203.0.113.7", ua: "Mozilla/5.0 (Ann)"}
	bob = actor{id: "acc-bob", email: "bob@example.com", ip: "2001:db8::1", ua: "curl/8.5.0"}
)

// event encodes e as the executor does, with by's metadata and the chain's
// fields after it.
func event(t testing.TB, e domain.Event, by actor) eventstore.EventData {
	t.Helper()
	typ, data, err := domain.EncodeEvent(e)
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.NewString()
	meta, err := json.Marshal(domain.Metadata{EventID: id, CommandID: uuid.NewString(), CorrelationID: "req-1",
		CausationID: "cmd-1", ActorID: by.id, ActorEmail: by.email, OccurredAt: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC),
		ClientIP: by.ip, UserAgent: by.ua, Schema: domain.SchemaV1})
	if err != nil {
		t.Fatal(err)
	}
	meta = append(meta[:len(meta)-1], chainTail...)
	return eventstore.EventData{ID: id, Type: typ, Data: data, Metadata: meta}
}

func invited(email string) domain.MemberInvited {
	return domain.MemberInvited{Schema: 1, InvitationID: uuid.NewString(), Email: email, Role: domain.RoleAgent,
		InvitedBy: "acc-owner", ExpiresAt: time.Date(2026, 3, 9, 9, 0, 0, 0, time.UTC), TokenNonce: "nonce"}
}

func joined(accountID, email string) domain.MemberJoined {
	return domain.MemberJoined{Schema: 1, AccountID: accountID, Email: email, Role: domain.RoleAgent}
}

// recorded is events as the store gives them back.
func recorded(events ...eventstore.EventData) []eventstore.RecordedEvent {
	out := make([]eventstore.RecordedEvent, len(events))
	for i, e := range events {
		out[i] = eventstore.RecordedEvent{ID: e.ID, StreamID: "property-p1", Revision: uint64(i), Type: e.Type,
			Data: append([]byte(nil), e.Data...), Metadata: append([]byte(nil), e.Metadata...)}
	}
	return out
}

// fieldsOf decodes a JSON object into its fields.
func fieldsOf(t testing.TB, doc []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatalf("decode %s: %v", doc, err)
	}
	return m
}

// field is the string a JSON object holds under key.
func field(t testing.TB, doc []byte, key string) string {
	t.Helper()
	s, _ := fieldsOf(t, doc)[key].(string)
	return s
}

// subjectOf is the subject a sealed value names.
func subjectOf(t testing.TB, sealed string) uuid.UUID {
	t.Helper()
	id, _, ok, err := parseSealed(sealed)
	if err != nil || !ok {
		t.Fatalf("%q is not a sealed value (%v)", sealed, err)
	}
	return id
}
