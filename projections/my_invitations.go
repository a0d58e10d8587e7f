package projections

import (
	"time"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/recorded"
)

// MyInvitationsName names the my_invitations projection and its checkpoint.
const MyInvitationsName = "my_invitations"

// MyInvitations returns the projection behind rm_my_invitations, the
// dashboard's bell: the pending invitations addressed to an email, with the
// property's name and the inviter's email. A row goes when its invitation
// stops being pending. Property names are kept in this projection's own
// rm_my_invitations_properties, so it never reads another projection's
// tables and can be rebuilt alone.
func MyInvitations() Projection {
	return withPersonal(myInvitationsPersonal, setwise(MyInvitationsName, []string{"rm_my_invitations", "rm_my_invitations_properties"}, newMyInvitationsBatch, map[string]step[*myInvitationsBatch]{
		domain.TypePropertyCreated:    onEvent(myInvitationsPropertyCreated),
		domain.TypeMemberInvited:      onEvent(myInvitationsInvited),
		domain.TypeInvitationResent:   onEvent(myInvitationsResent),
		domain.TypeInvitationRevoked:  onEvent(myInvitationsRevoked),
		domain.TypeInvitationDeclined: onEvent(myInvitationsDeclined),
		domain.TypeInvitationAccepted: onEvent(myInvitationsAccepted),
	}))
}

// myInvitationsPersonal: the invitee's email, and the inviter's as their
// token claimed it, sealed under their account when it is no address.
var myInvitationsPersonal = []PersonalColumn{
	{Table: "rm_my_invitations", Column: "email"},
	{Table: "rm_my_invitations", Column: "invited_by_email", Claimed: true, Account: "invited_by"},
}

type myInvitationRow struct {
	Email, PropertyID, InvitationID, PropertyName, Role, InvitedBy, InvitedByEmail string
	CreatedAt, ExpiresAt                                                           time.Time
}

// nameRow is a property's name as one projection last saw it.
type nameRow struct{ PropertyID, Name string }

func nameSpec(name string) *tableSpec[nameRow] {
	return (&tableSpec[nameRow]{
		name: name, keyCols: []string{"property_id"},
		key: func(r *nameRow) rowKey { return rowKey{a: r.PropertyID} },
		cols: []column[nameRow]{
			col("property_id", func(r *nameRow) any { return &r.PropertyID }),
			col("name", func(r *nameRow) any { return &r.Name }),
		},
	}).build()
}

var (
	myInvitationsSpec = (&tableSpec[myInvitationRow]{
		name: "rm_my_invitations", keyCols: []string{"property_id", "invitation_id"},
		key:         func(r *myInvitationRow) rowKey { return rowKey{r.PropertyID, r.InvitationID} },
		propertyCol: "property_id", property: func(r *myInvitationRow) string { return r.PropertyID },
		cols: []column[myInvitationRow]{
			col("email", func(r *myInvitationRow) any { return &r.Email }),
			col("property_id", func(r *myInvitationRow) any { return &r.PropertyID }),
			col("invitation_id", func(r *myInvitationRow) any { return &r.InvitationID }),
			col("property_name", func(r *myInvitationRow) any { return &r.PropertyName }),
			col("role", func(r *myInvitationRow) any { return &r.Role }),
			col("invited_by", func(r *myInvitationRow) any { return &r.InvitedBy }),
			col("invited_by_email", func(r *myInvitationRow) any { return &r.InvitedByEmail }),
			col("created_at", func(r *myInvitationRow) any { return &r.CreatedAt }),
			col("expires_at", func(r *myInvitationRow) any { return &r.ExpiresAt }),
		},
	}).build()
	myInvitationsNamesSpec = nameSpec("rm_my_invitations_properties")
)

type myInvitationsBatch struct {
	invitations *table[myInvitationRow]
	names       *table[nameRow]
}

func newMyInvitationsBatch(u *unit) *myInvitationsBatch {
	return &myInvitationsBatch{invitations: newTable(u, myInvitationsSpec), names: newTable(u, myInvitationsNamesSpec)}
}

func myInvitationsPropertyCreated(s *myInvitationsBatch, e recorded.Event, ev domain.PropertyCreated) error {
	s.names.Put(nameRow{PropertyID: e.PropertyID, Name: ev.Name})
	// A rename would take this path too: pending rows show the new name.
	// At revision 0 no event of the property came before, so it has no
	// rows to rename.
	if e.Revision > 0 {
		s.invitations.UpdateProperty(e.PropertyID, func(r *myInvitationRow) bool {
			if r.PropertyName == ev.Name {
				return false
			}
			r.PropertyName = ev.Name
			return true
		})
	}
	return nil
}

func myInvitationsInvited(s *myInvitationsBatch, e recorded.Event, ev domain.MemberInvited) error {
	name, _ := s.names.Get(rowKey{a: e.PropertyID})
	s.invitations.Put(myInvitationRow{Email: ev.Email, PropertyID: e.PropertyID, InvitationID: ev.InvitationID,
		PropertyName: name.Name, Role: string(ev.Role), InvitedBy: ev.InvitedBy, InvitedByEmail: inviterEmail(e, ev),
		CreatedAt: dbTime(e.At()), ExpiresAt: dbTime(ev.ExpiresAt)})
	return nil
}

// inviterEmail is the inviter's email when the metadata's actor is the
// inviter (the payload carries only its ID) and their token verified it:
// an unverified claim is never shown as who invited.
func inviterEmail(e recorded.Event, ev domain.MemberInvited) string {
	if e.Meta.ActorID != "" && e.Meta.ActorID != ev.InvitedBy {
		return ""
	}
	return e.Meta.ShownActorEmail()
}

func myInvitationsResent(s *myInvitationsBatch, e recorded.Event, ev domain.InvitationResent) error {
	s.invitations.Update(rowKey{e.PropertyID, ev.InvitationID}, func(r *myInvitationRow) { r.ExpiresAt = dbTime(ev.ExpiresAt) })
	return nil
}

func myInvitationsRevoked(s *myInvitationsBatch, e recorded.Event, ev domain.InvitationRevoked) error {
	s.invitations.Delete(rowKey{e.PropertyID, ev.InvitationID})
	return nil
}

func myInvitationsDeclined(s *myInvitationsBatch, e recorded.Event, ev domain.InvitationDeclined) error {
	s.invitations.Delete(rowKey{e.PropertyID, ev.InvitationID})
	return nil
}

func myInvitationsAccepted(s *myInvitationsBatch, e recorded.Event, ev domain.InvitationAccepted) error {
	s.invitations.Delete(rowKey{e.PropertyID, ev.InvitationID})
	return nil
}
