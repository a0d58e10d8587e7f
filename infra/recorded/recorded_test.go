package recorded_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/recorded"
	pt "github.com/rosterhq/roster/projections/projectiontest"
)

var equalTimes = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

// TestDecode: a property's event decodes whole, with when it happened;
// another stream's is foreign, and a bad type or metadata an error.
func TestDecode(t *testing.T) {
	t.Parallel()
	at := pt.At(3)
	meta, _ := json.Marshal(domain.Metadata{ActorID: pt.Ann, ActorEmail: pt.AnnEmail, OccurredAt: at, Schema: 1})
	data, _ := json.Marshal(domain.MemberLeft{Schema: 1, AccountID: pt.Ann})
	pos := eventstore.Position{Commit: 9, Prepare: 8}
	rec := func(stream, typ string, data, meta []byte) eventstore.RecordedEvent {
		return eventstore.RecordedEvent{ID: "e1", StreamID: stream, Revision: 4, Position: pos,
			Type: typ, Data: data, Metadata: meta, RecordedAt: at.Add(time.Second)}
	}
	tests := []struct {
		name    string
		rec     eventstore.RecordedEvent
		want    recorded.Event
		wantAt  time.Time
		wantErr func(error) bool
	}{
		{"a property event gives its ID, property ID, payload and metadata",
			rec(domain.StreamName(pt.Acme), domain.TypeMemberLeft, data, meta),
			recorded.Event{ID: "e1", Type: domain.TypeMemberLeft, Event: domain.MemberLeft{Schema: 1, AccountID: pt.Ann},
				Meta:     domain.Metadata{ActorID: pt.Ann, ActorEmail: pt.AnnEmail, OccurredAt: at, Schema: 1},
				StreamID: domain.StreamName(pt.Acme), PropertyID: pt.Acme, Revision: 4, Position: pos, RecordedAt: at.Add(time.Second)},
			at, nil},
		{"missing metadata leaves it empty, and the time is the recorded one",
			rec(domain.StreamName(pt.Acme), domain.TypeMemberLeft, data, nil),
			recorded.Event{ID: "e1", Type: domain.TypeMemberLeft, Event: domain.MemberLeft{Schema: 1, AccountID: pt.Ann},
				StreamID: domain.StreamName(pt.Acme), PropertyID: pt.Acme, Revision: 4, Position: pos, RecordedAt: at.Add(time.Second)},
			at.Add(time.Second), nil},
		{"another stream is foreign", rec("account-1", domain.TypeMemberLeft, data, meta), recorded.Event{}, time.Time{},
			func(err error) bool { return errors.Is(err, recorded.ErrForeignStream) }},
		{"an unknown type is an error", rec(domain.StreamName(pt.Acme), "Nope", data, meta), recorded.Event{}, time.Time{},
			func(err error) bool { return err != nil && !errors.Is(err, recorded.ErrForeignStream) }},
		{"malformed metadata is an error", rec(domain.StreamName(pt.Acme), domain.TypeMemberLeft, data, []byte(`[1]`)),
			recorded.Event{}, time.Time{}, func(err error) bool { return err != nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := recorded.Decode(tt.rec)
			if tt.wantErr != nil {
				if !tt.wantErr(err) {
					t.Fatalf("Decode error = %v, not the one wanted", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, equalTimes); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
			if !got.At().Equal(tt.wantAt) {
				t.Errorf("At() = %v, want %v", got.At(), tt.wantAt)
			}
		})
	}
}
