package mail

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/infra/feed"
)

// Anyone can put any address in an unverified email claim, so the mail names
// the inviter by a verified email only, else by account.
func TestInvitationNamesTheInviterByAVerifiedEmailOnly(t *testing.T) {
	tests := []struct {
		name               string
		invitedBy, account string
		says               string
	}{
		{"a verified email is shown", "bob@example.com", "acc-bob", "bob@example.com invited you"},
		{"without a verified email, the account is", "", "acc-bob", "An admin (account acc-bob) invited you"},
		{"with neither, an admin invited", "", "", "An admin invited you"},
		{"an account that would break the line stays on one", "", "acc\r\nBcc: eve@example.com", "An admin (account acc Bcc: eve@example.com) invited you"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := testInvitation()
			inv.InvitedBy, inv.InviterAccount = tt.invitedBy, tt.account
			msg, err := Invitation(inv, testAcceptURL)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(msg.Subject, tt.says) || !strings.Contains(msg.Text, tt.says) ||
				!strings.Contains(msg.HTML, "<strong>"+strings.TrimSuffix(tt.says, " invited you")+"</strong> invited you") {
				t.Errorf("subject %q, bodies:\n%s\n%s\nshould all say %q", msg.Subject, msg.Text, msg.HTML, tt.says)
			}
		})
	}
}

// The consumer takes the inviter from the event's metadata: an email the
// token did not verify never reaches the invitee, and an event written
// before verification was recorded names its inviter as it always did.
func TestConsumerShowsAnUnverifiedInviterByAccount(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name     string
		verified *bool
		says     string
	}{
		{"a verified inviter by email", &yes, "ceo@example.com invited you"},
		{"an unverified inviter by account", &no, "An admin (account acc-eve) invited you"},
		{"an inviter of an event from before verification was recorded by email", nil, "ceo@example.com invited you"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newConsumerFixture(t)
			f.created()
			f.handle(f.msgVerified("acc-eve", "ceo@example.com", tt.verified, domain.MemberInvited{Schema: 1, InvitationID: uuid.NewString(),
				Email: "ann@example.com", Role: domain.RoleAdmin, InvitedBy: "acc-eve", ExpiresAt: expires, TokenNonce: "n"}))
			f.drain()
			got := f.out.sent()
			if len(got) != 1 {
				t.Fatalf("%d mails sent, want 1", len(got))
			}
			if !strings.HasPrefix(got[0].Subject, tt.says) || !strings.Contains(got[0].Text, tt.says) {
				t.Errorf("mail says %q\n%s\nwant %q", got[0].Subject, got[0].Text, tt.says)
			}
			if tt.verified != nil && !*tt.verified && strings.Contains(got[0].Text+got[0].HTML+got[0].Subject, "ceo@example.com") {
				t.Errorf("the unverified claim ceo@example.com is in the mail:\n%s", got[0].Text)
			}
		})
	}
}

// msgVerified is msg with the actor's account, email and the metadata's
// record of whether the token verified it.
func (f *consumerFixture) msgVerified(actorID, email string, verified *bool, ev domain.Event) *message.Message {
	f.t.Helper()
	typ, data, err := domain.EncodeEvent(ev)
	if err != nil {
		f.t.Fatal(err)
	}
	id := uuid.NewString()
	meta, _ := json.Marshal(domain.Metadata{EventID: id, ActorID: actorID, ActorEmail: email, ActorEmailVerified: verified,
		OccurredAt: consumerNow, Schema: 1})
	f.rev++
	return feed.ToMessage(eventstore.RecordedEvent{ID: id, StreamID: domain.StreamName(f.pid), Revision: f.rev,
		Position: eventstore.Position{Commit: f.rev, Prepare: f.rev}, Type: typ, Data: data, Metadata: meta, RecordedAt: consumerNow})
}
