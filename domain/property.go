package domain

import "time"

// MemberStatus says whether a member's permissions are in force.
type MemberStatus string

// The statuses a member can have.
const (
	StatusEnabled  MemberStatus = "enabled"
	StatusDisabled MemberStatus = "disabled"
)

// InvitationStatus is where an invitation is in its lifecycle.
type InvitationStatus string

// The statuses an invitation can have. Expired is never stored: it is derived
// from a pending invitation whose expiry has passed.
const (
	InvitePending  InvitationStatus = "pending"
	InviteAccepted InvitationStatus = "accepted"
	InviteRevoked  InvitationStatus = "revoked"
	InviteDeclined InvitationStatus = "declined"
	InviteExpired  InvitationStatus = "expired"
)

// Member is one account's membership of a property.
type Member struct {
	AccountID string
	Email     string
	Role      Role
	Status    MemberStatus
	JoinedAt  time.Time
	UpdatedAt time.Time
	// AccessUntil is when the member's access ends; nil when it does not.
	AccessUntil *time.Time
}

// Invitation is one invitation of a property, in any status.
type Invitation struct {
	ID         string
	Email      string
	Role       Role
	Status     InvitationStatus
	InvitedBy  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	TokenNonce string
	UpdatedAt  time.Time
	// Lifetime is the lifetime the inviter chose; zero when they took the
	// property's default.
	Lifetime Lifetime
	// AccessUntil is when the membership offered ends; nil when it does not.
	AccessUntil *time.Time
}

// StatusAt is the invitation's status at a moment, with expiry derived.
func (i *Invitation) StatusAt(now time.Time) InvitationStatus {
	if i.Status == InvitePending && !now.Before(i.ExpiresAt) {
		return InviteExpired
	}
	return i.Status
}

// Property is the aggregate: the state a property's events add up to.
// Its state changes only through Apply; its decisions return events.
// A Property is not safe for concurrent use.
type Property struct {
	ID      string
	Name    string
	OwnerID string
	// Version counts the events applied: the stream holds Version events.
	Version     uint64
	Members     map[string]*Member
	Invitations map[string]*Invitation
	// Policy is the invitation policy the property set; nil when it never
	// set one (see InvitationPolicy).
	Policy *InvitationPolicy
	// Webhooks are the property's webhook endpoints, by ID.
	Webhooks map[string]*WebhookEndpoint
	// CustomRoles are the roles the property defined, by ID; nil until it
	// defines one (docs/ARCHITECTURE.md section 13).
	CustomRoles map[Role]*RoleDef
	// roleOrder keeps custom roles in creation order for stable answers.
	roleOrder []Role
	// order keeps invitations in creation order for stable answers.
	order []string
	// memberOf and invitedAs index members and invitations by email, so a
	// decision on a property with a hundred thousand of either does not
	// scan them all for each address it checks.
	memberOf  map[string]string
	invitedAs map[string][]string
	// now is the moment decisions are taken at (DecideAt).
	now time.Time
	// reminded is, by account, the nearest reminder of the member's end of
	// access given so far (RemindAccessEnding).
	reminded map[string]time.Duration
}

// NewProperty returns the empty state of a property that has no events yet.
func NewProperty(id string) *Property {
	return &Property{ID: id, Members: map[string]*Member{}, Invitations: map[string]*Invitation{},
		Webhooks: map[string]*WebhookEndpoint{}, memberOf: map[string]string{}, invitedAs: map[string][]string{}}
}

// Exists reports whether the property has been created.
func (p *Property) Exists() bool { return p.Version > 0 }

// InvitationsInOrder returns the invitations in the order they were made.
func (p *Property) InvitationsInOrder() []*Invitation {
	out := make([]*Invitation, 0, len(p.order))
	for _, id := range p.order {
		out = append(out, p.Invitations[id])
	}
	return out
}

// Apply folds one event into the state. It never validates: events are
// facts, and replaying them must rebuild the state they were decided on.
func (p *Property) Apply(e Event, at time.Time) {
	p.Version++
	switch e := e.(type) {
	case PropertyCreated:
		p.ID, p.Name, p.OwnerID = e.PropertyID, e.Name, e.OwnerID
	case MemberJoined:
		p.forgetMember(e.AccountID)
		p.Members[e.AccountID] = &Member{AccountID: e.AccountID, Email: e.Email, Role: e.Role,
			Status: StatusEnabled, JoinedAt: at, UpdatedAt: at, AccessUntil: e.AccessUntil}
		p.memberOf[e.Email] = e.AccountID
	case MemberInvited:
		p.Invitations[e.InvitationID] = &Invitation{ID: e.InvitationID, Email: e.Email, Role: e.Role,
			Status: InvitePending, InvitedBy: e.InvitedBy, CreatedAt: at, ExpiresAt: e.ExpiresAt,
			TokenNonce: e.TokenNonce, UpdatedAt: at, Lifetime: Lifetime(e.LifetimeSeconds),
			AccessUntil: e.AccessUntil}
		p.order = append(p.order, e.InvitationID)
		p.invitedAs[e.Email] = append(p.invitedAs[e.Email], e.InvitationID)
	case InvitationResent:
		if inv := p.Invitations[e.InvitationID]; inv != nil {
			inv.ExpiresAt, inv.TokenNonce, inv.UpdatedAt = e.ExpiresAt, e.TokenNonce, at
		}
	case InvitationRevoked:
		p.setInvitationStatus(e.InvitationID, InviteRevoked, at)
	case InvitationDeclined:
		p.setInvitationStatus(e.InvitationID, InviteDeclined, at)
	case InvitationAccepted:
		p.setInvitationStatus(e.InvitationID, InviteAccepted, at)
	case MemberRoleChanged:
		if m := p.Members[e.AccountID]; m != nil {
			m.Role, m.UpdatedAt = e.To, at
		}
	case MemberAccessDisabled:
		if m := p.Members[e.AccountID]; m != nil {
			m.Status, m.UpdatedAt = StatusDisabled, at
		}
	case MemberAccessEnabled:
		if m := p.Members[e.AccountID]; m != nil {
			// An enable gives access back for good: an end, passed or
			// not, is set afresh (section 12 of docs/ARCHITECTURE.md).
			m.Status, m.UpdatedAt, m.AccessUntil = StatusEnabled, at, nil
		}
	case MemberRemoved:
		p.forgetMember(e.AccountID)
	case MemberLeft:
		p.forgetMember(e.AccountID)
	case OwnershipTransferred:
		p.OwnerID = e.To
	case InvitationPolicyChanged:
		p.Policy = &InvitationPolicy{Default: Lifetime(e.DefaultLifetimeSeconds), Maximum: Lifetime(e.MaximumLifetimeSeconds)}
	case MemberAccessUntilChanged, MemberAccessExpired, MemberAccessEndingSoon:
		p.applyAccessUntil(e, at)
	case WebhookEndpointCreated, WebhookEndpointUpdated, WebhookEndpointDisabled, WebhookEndpointEnabled,
		WebhookSecretRotated, WebhookEndpointDeleted:
		p.applyWebhook(e, at)
	case RoleCreated, RoleRenamed, RolePermissionsChanged, RoleDeleted:
		p.applyRole(e, at)
	}
}

// forgetMember removes a member and its email from the index.
func (p *Property) forgetMember(accountID string) {
	if m := p.Members[accountID]; m != nil {
		if p.memberOf[m.Email] == accountID {
			delete(p.memberOf, m.Email)
		}
		delete(p.Members, accountID)
	}
}

func (p *Property) setInvitationStatus(id string, s InvitationStatus, at time.Time) {
	if inv := p.Invitations[id]; inv != nil {
		inv.Status, inv.UpdatedAt = s, at
	}
}
