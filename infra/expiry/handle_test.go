package expiry

import (
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
)

// TestHandleWakesTheSchedulerOncePerMessage: a message of one event or of a
// batch wakes the scheduler when an event of it may bring an end nearer; a
// batch that does not decode is an error, to be retried.
func TestHandleWakesTheSchedulerOncePerMessage(t *testing.T) {
	ev := func(pos uint64, typ string) eventstore.RecordedEvent {
		return eventstore.RecordedEvent{ID: "ev-" + typ, StreamID: domain.StreamName("p1"), Type: typ, Data: []byte(`{}`),
			Position: eventstore.Position{Commit: pos, Prepare: pos}}
	}
	joined, changed, role := ev(1, domain.TypeMemberJoined), ev(2, domain.TypeMemberAccessUntilChanged), ev(3, domain.TypeMemberRoleChanged)
	cut := feed.ToBatchMessage([]eventstore.RecordedEvent{role, joined})
	cut.Payload = cut.Payload[:len(cut.Payload)-2]
	tests := []struct {
		name     string
		msg      *message.Message
		wantWake bool
		wantErr  bool
	}{
		{"one join", feed.ToMessage(joined), true, false},
		{"one change of a role", feed.ToMessage(role), false, false},
		{"a batch with a join and a moved end", feed.ToBatchMessage([]eventstore.RecordedEvent{role, joined, changed}), true, false},
		{"a batch of changes of roles", feed.ToBatchMessage([]eventstore.RecordedEvent{role}), false, false},
		{"a batch cut short", cut, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Scheduler{wake: make(chan struct{}, 1)}
			err := s.Handle(tt.msg)
			if (err != nil) != tt.wantErr {
				t.Errorf("Handle = %v, want an error: %v", err, tt.wantErr)
			}
			if woken := len(s.wake) == 1; woken != tt.wantWake {
				t.Errorf("woken = %v, want %v", woken, tt.wantWake)
			}
		})
	}
}
