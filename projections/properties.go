package projections

import (
	"time"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/recorded"
)

// PropertiesName names the properties projection and its checkpoint.
const PropertiesName = "properties"

// Properties returns the projection behind rm_properties: one row per
// property with its owner, its stream revision (the ETag of If-Match) and
// its member and pending-invitation counts. Every event type moves the
// revision, so every type is in the table. The counts are kept from the sets
// in rm_properties_members and rm_properties_pending, so a count moves only
// when its set really changes.
func Properties() Projection {
	return setwise(PropertiesName, []string{"rm_properties", "rm_properties_members", "rm_properties_pending"}, newPropertiesBatch, map[string]step[*propertiesBatch]{
		domain.TypePropertyCreated:         onEvent(propertyCreated),
		domain.TypeMemberInvited:           onEvent(propertyInvited),
		domain.TypeInvitationResent:        touchProperty,
		domain.TypeInvitationRevoked:       onEvent(propertyInvitationRevoked),
		domain.TypeInvitationDeclined:      onEvent(propertyInvitationDeclined),
		domain.TypeInvitationAccepted:      onEvent(propertyInvitationAccepted),
		domain.TypeMemberJoined:            onEvent(propertyMemberJoined),
		domain.TypeMemberRoleChanged:       touchProperty,
		domain.TypeMemberAccessDisabled:    touchProperty,
		domain.TypeMemberAccessEnabled:     touchProperty,
		domain.TypeMemberRemoved:           onEvent(propertyMemberRemoved),
		domain.TypeMemberLeft:              onEvent(propertyMemberLeft),
		domain.TypeOwnershipTransferred:    onEvent(propertyOwnershipTransferred),
		domain.TypeInvitationPolicyChanged: onEvent(propertyInvitationPolicyChanged),

		domain.TypeWebhookEndpointCreated:  touchProperty,
		domain.TypeWebhookEndpointUpdated:  touchProperty,
		domain.TypeWebhookEndpointDisabled: touchProperty,
		domain.TypeWebhookEndpointEnabled:  touchProperty,
		domain.TypeWebhookSecretRotated:    touchProperty,
		domain.TypeWebhookEndpointDeleted:  touchProperty,

		domain.TypeRoleCreated:            touchProperty,
		domain.TypeRoleRenamed:            touchProperty,
		domain.TypeRolePermissionsChanged: touchProperty,
		domain.TypeRoleDeleted:            touchProperty,

		domain.TypeMemberAccessUntilChanged: touchProperty,
		domain.TypeMemberAccessExpired:      touchProperty,
		domain.TypeMemberAccessEndingSoon:   touchProperty,
	})
}

type propertyRow struct {
	PropertyID, Name, OwnerID string
	Revision                  int64
	MemberCount, Pending      int32
	CreatedAt, UpdatedAt      time.Time
	// DefaultLifetime and MaximumLifetime are the invitation policy in
	// seconds, 0 while the property has set none.
	DefaultLifetime, MaximumLifetime int64
}

var propertiesSpec = (&tableSpec[propertyRow]{
	name: "rm_properties", keyCols: []string{"property_id"},
	key: func(r *propertyRow) rowKey { return rowKey{a: r.PropertyID} },
	cols: []column[propertyRow]{
		col("property_id", func(r *propertyRow) any { return &r.PropertyID }),
		col("name", func(r *propertyRow) any { return &r.Name }),
		col("owner_id", func(r *propertyRow) any { return &r.OwnerID }),
		col("revision", func(r *propertyRow) any { return &r.Revision }),
		col("member_count", func(r *propertyRow) any { return &r.MemberCount }),
		col("pending_invitation_count", func(r *propertyRow) any { return &r.Pending }),
		col("created_at", func(r *propertyRow) any { return &r.CreatedAt }),
		col("updated_at", func(r *propertyRow) any { return &r.UpdatedAt }),
		col("invite_default_lifetime_s", func(r *propertyRow) any { return &r.DefaultLifetime }),
		col("invite_maximum_lifetime_s", func(r *propertyRow) any { return &r.MaximumLifetime }),
	},
}).build()

// pairRow is a row of a set: a property and one of its members or
// invitations.
type pairRow struct{ A, B string }

func pairSpec(name, a, b string) *tableSpec[pairRow] {
	return (&tableSpec[pairRow]{
		name: name, keyCols: []string{a, b},
		key: func(r *pairRow) rowKey { return rowKey{r.A, r.B} },
		cols: []column[pairRow]{
			col(a, func(r *pairRow) any { return &r.A }),
			col(b, func(r *pairRow) any { return &r.B }),
		},
	}).build()
}

var (
	propertyMembersSpec = pairSpec("rm_properties_members", "property_id", "account_id")
	propertyPendingSpec = pairSpec("rm_properties_pending", "property_id", "invitation_id")
)

type propertiesBatch struct {
	props            *table[propertyRow]
	members, pending *table[pairRow]
}

func newPropertiesBatch(u *unit) *propertiesBatch {
	return &propertiesBatch{props: newTable(u, propertiesSpec),
		members: newTable(u, propertyMembersSpec), pending: newTable(u, propertyPendingSpec)}
}

// A second PropertyCreated renames and hands over the property but keeps
// its creation time and counts.
func propertyCreated(s *propertiesBatch, e recorded.Event, ev domain.PropertyCreated) error {
	at := dbTime(e.At())
	if !s.props.Update(rowKey{a: e.PropertyID}, func(r *propertyRow) {
		r.Name, r.OwnerID, r.Revision, r.UpdatedAt = ev.Name, ev.OwnerID, int64(e.Revision), at
	}) {
		s.props.Put(propertyRow{PropertyID: e.PropertyID, Name: ev.Name, OwnerID: ev.OwnerID,
			Revision: int64(e.Revision), CreatedAt: at, UpdatedAt: at})
	}
	return nil
}

// touchProperty records that the property's stream moved on.
func touchProperty(s *propertiesBatch, e recorded.Event) error {
	s.props.Update(rowKey{a: e.PropertyID}, func(r *propertyRow) { r.Revision, r.UpdatedAt = int64(e.Revision), dbTime(e.At()) })
	return nil
}

// countProperty moves the revision and adds delta to the count count picks.
func countProperty(s *propertiesBatch, e recorded.Event, count func(*propertyRow) *int32, delta int32) {
	s.props.Update(rowKey{a: e.PropertyID}, func(r *propertyRow) {
		r.Revision, r.UpdatedAt = int64(e.Revision), dbTime(e.At())
		*count(r) += delta
	})
}

func members(r *propertyRow) *int32 { return &r.MemberCount }
func pending(r *propertyRow) *int32 { return &r.Pending }

// one is 1 when b holds, else 0: a set's change to its count.
func one(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

func propertyInvited(s *propertiesBatch, e recorded.Event, ev domain.MemberInvited) error {
	countProperty(s, e, pending, one(s.pending.Add(pairRow{e.PropertyID, ev.InvitationID})))
	return nil
}

func propertyInvitationRevoked(s *propertiesBatch, e recorded.Event, ev domain.InvitationRevoked) error {
	return propertyInvitationClosed(s, e, ev.InvitationID)
}

func propertyInvitationDeclined(s *propertiesBatch, e recorded.Event, ev domain.InvitationDeclined) error {
	return propertyInvitationClosed(s, e, ev.InvitationID)
}

func propertyInvitationAccepted(s *propertiesBatch, e recorded.Event, ev domain.InvitationAccepted) error {
	return propertyInvitationClosed(s, e, ev.InvitationID)
}

// propertyInvitationClosed handles every way an invitation stops being pending.
func propertyInvitationClosed(s *propertiesBatch, e recorded.Event, invitationID string) error {
	countProperty(s, e, pending, -one(s.pending.Delete(rowKey{e.PropertyID, invitationID})))
	return nil
}

func propertyMemberJoined(s *propertiesBatch, e recorded.Event, ev domain.MemberJoined) error {
	countProperty(s, e, members, one(s.members.Add(pairRow{e.PropertyID, ev.AccountID})))
	return nil
}

func propertyMemberRemoved(s *propertiesBatch, e recorded.Event, ev domain.MemberRemoved) error {
	return propertyMemberGone(s, e, ev.AccountID)
}

func propertyMemberLeft(s *propertiesBatch, e recorded.Event, ev domain.MemberLeft) error {
	return propertyMemberGone(s, e, ev.AccountID)
}

// propertyMemberGone handles both a removal and a member leaving.
func propertyMemberGone(s *propertiesBatch, e recorded.Event, accountID string) error {
	countProperty(s, e, members, -one(s.members.Delete(rowKey{e.PropertyID, accountID})))
	return nil
}

func propertyOwnershipTransferred(s *propertiesBatch, e recorded.Event, ev domain.OwnershipTransferred) error {
	s.props.Update(rowKey{a: e.PropertyID}, func(r *propertyRow) {
		r.OwnerID, r.Revision, r.UpdatedAt = ev.To, int64(e.Revision), dbTime(e.At())
	})
	return nil
}

func propertyInvitationPolicyChanged(s *propertiesBatch, e recorded.Event, ev domain.InvitationPolicyChanged) error {
	s.props.Update(rowKey{a: e.PropertyID}, func(r *propertyRow) {
		r.DefaultLifetime, r.MaximumLifetime = ev.DefaultLifetimeSeconds, ev.MaximumLifetimeSeconds
		r.Revision, r.UpdatedAt = int64(e.Revision), dbTime(e.At())
	})
	return nil
}
