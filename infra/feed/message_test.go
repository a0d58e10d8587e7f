package feed

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/infra/eventstore"
)

func TestAFeedMessageCarriesTheWholeEvent(t *testing.T) {
	tests := []struct {
		name string
		rec  eventstore.RecordedEvent
	}{
		{"with metadata", eventstore.RecordedEvent{ID: "5f0c9a8e-1d2b-4c3d-8e9f-0a1b2c3d4e5f", StreamID: "property-x", Revision: 7,
			Position: eventstore.Position{Commit: 12, Prepare: 9}, Type: "MemberInvited",
			Data: []byte(`{"schema":1}`), Metadata: []byte(`{"actor_id":"a"}`), RecordedAt: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)}},
		{"without metadata", eventstore.RecordedEvent{ID: "6f0c9a8e-1d2b-4c3d-8e9f-0a1b2c3d4e5f", StreamID: "property-y",
			Position: eventstore.Position{Commit: 1, Prepare: 1}, Type: "PropertyCreated", Data: []byte(`{}`),
			RecordedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := ToMessage(tt.rec)
			if msg.UUID != tt.rec.ID {
				t.Errorf("message UUID %s, want the event ID %s", msg.UUID, tt.rec.ID)
			}
			got, err := FromMessage(msg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.rec, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAMessageFromElsewhereIsRefused(t *testing.T) {
	msg := ToMessage(eventstore.RecordedEvent{ID: "x", StreamID: "s", Type: "T"})
	msg.Metadata.Set(KeyCommit, "not a number")
	if _, err := FromMessage(msg); err == nil {
		t.Error("FromMessage accepted a message with a malformed position")
	}
}
