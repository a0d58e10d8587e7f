package domain

import (
	"strconv"
	"time"
)

// Create starts the property; the actor becomes its owner and first admin.
// Errors: CodePropertyExists, CodeInvalidName, CodeInvalidEmail.
func (p *Property) Create(actor Actor, name string) ([]Event, error) {
	if p.Exists() {
		return nil, Errorf(KindConflict, CodePropertyExists, "property %s exists already", p.ID)
	}
	clean, err := normalizeName(name)
	if err != nil {
		return nil, err
	}
	email, err := NormalizeEmail(actor.Email)
	if err != nil {
		return nil, err
	}
	return []Event{
		PropertyCreated{Schema: SchemaV1, PropertyID: p.ID, Name: clean, OwnerID: actor.AccountID},
		MemberJoined{Schema: SchemaV1, AccountID: actor.AccountID, Email: email, Role: RoleAdmin},
	}, nil
}

// InviteRequest is one row of an invitation request, as the client sent it.
// The caller chooses the invitation ID and a fresh random token nonce.
type InviteRequest struct {
	InvitationID string
	Email        string
	Role         string
	TokenNonce   string
}

// Invite invites one or many emails, all or nothing: DESIGN invariants 2, 3, 4.
// Every bad row is reported at once in Error.Problems: the error's kind is
// KindInvalid when any row is malformed, else KindConflict.
func (p *Property) Invite(actor Actor, now time.Time, ttl time.Duration, reqs []InviteRequest) ([]Event, error) {
	if err := p.authorize(actor, PermManageInvitations); err != nil {
		return nil, err
	}
	switch {
	case len(reqs) == 0:
		return nil, Errorf(KindInvalid, CodeNoInvitations, "at least one invitation is required")
	case len(reqs) > MaxInvitesPerRequest:
		return nil, Errorf(KindInvalid, CodeTooManyInvitations,
			"%d invitations in one request; at most %d are allowed", len(reqs), MaxInvitesPerRequest)
	}
	var problems []Problem
	malformed := false
	seen := map[string]int{}
	events := make([]Event, 0, len(reqs))
	for i, r := range reqs {
		email, emailErr := NormalizeEmail(r.Email)
		role, roleErr := ParseRole(r.Role)
		if emailErr != nil {
			malformed = true
			problems = append(problems, rowProblem(i, "email", r.Email, emailErr))
		}
		if roleErr != nil {
			malformed = true
			problems = append(problems, rowProblem(i, "role", r.Role, roleErr))
		}
		if emailErr != nil {
			continue
		}
		if first, dup := seen[email]; dup {
			malformed = true
			problems = append(problems, Problem{Index: i, Field: "email", Value: r.Email, Code: CodeDuplicateEmail,
				Message: "email " + email + " is already invited by row " + strconv.Itoa(first) + " of this request"})
			continue
		}
		seen[email] = i
		if m := p.memberByEmail(email); m != nil {
			problems = append(problems, Problem{Index: i, Field: "email", Value: r.Email, Code: CodeAlreadyMember,
				Message: email + " is already a " + string(m.Status) + " member of this property"})
			continue
		}
		if inv := p.pendingInvitation(email, now); inv != nil {
			problems = append(problems, Problem{Index: i, Field: "email", Value: r.Email, Code: CodeAlreadyInvited,
				Message: email + " already has pending invitation " + inv.ID + "; resend it instead"})
			continue
		}
		if roleErr != nil {
			continue
		}
		events = append(events, MemberInvited{Schema: SchemaV1, InvitationID: r.InvitationID, Email: email,
			Role: role, InvitedBy: actor.AccountID, ExpiresAt: now.Add(ttl).UTC(), TokenNonce: r.TokenNonce})
	}
	if len(problems) > 0 {
		return nil, invitationProblems(problems, malformed)
	}
	return events, nil
}

func rowProblem(i int, field, value string, err error) Problem {
	return Problem{Index: i, Field: field, Value: value, Code: CodeOf(err), Message: err.Error()}
}

func invitationProblems(problems []Problem, malformed bool) *Error {
	kind := KindConflict
	if malformed {
		kind = KindInvalid
	}
	if len(problems) == 1 {
		return &Error{Kind: kind, Code: problems[0].Code, Message: problems[0].Message, Problems: problems}
	}
	return &Error{Kind: kind, Code: CodeInvalidInvitations,
		Message: strconv.Itoa(len(problems)) + " invitations cannot be sent; nothing was sent", Problems: problems}
}

// Resend gives a pending (or expired) invitation a new token and expiry:
// DESIGN invariant 7. Errors: CodeInvitationNotFound, CodeInvitationNotPending.
func (p *Property) Resend(actor Actor, now time.Time, ttl time.Duration, invitationID, nonce string) ([]Event, error) {
	if err := p.authorize(actor, PermManageInvitations); err != nil {
		return nil, err
	}
	inv, err := p.invitation(invitationID)
	if err != nil {
		return nil, err
	}
	if inv.Status != InvitePending {
		return nil, Errorf(KindConflict, CodeInvitationNotPending,
			"invitation %s is %s; only a pending or expired invitation can be resent", inv.ID, inv.Status)
	}
	return []Event{InvitationResent{Schema: SchemaV1, InvitationID: inv.ID,
		ExpiresAt: now.Add(ttl).UTC(), TokenNonce: nonce}}, nil
}

// Revoke withdraws one or a selection of pending invitations, all or nothing.
// Repeated IDs count once. Errors: CodeNoInvitations, CodeTooManyInvitations,
// CodeInvitationNotFound, CodeInvitationNotPending.
func (p *Property) Revoke(actor Actor, now time.Time, invitationIDs []string) ([]Event, error) {
	if err := p.authorize(actor, PermManageInvitations); err != nil {
		return nil, err
	}
	switch {
	case len(invitationIDs) == 0:
		return nil, Errorf(KindInvalid, CodeNoInvitations, "at least one invitation id is required")
	case len(invitationIDs) > MaxRevokesPerRequest:
		return nil, Errorf(KindInvalid, CodeTooManyInvitations,
			"%d invitations in one request; at most %d are allowed", len(invitationIDs), MaxRevokesPerRequest)
	}
	seen := map[string]bool{}
	events := make([]Event, 0, len(invitationIDs))
	for _, id := range invitationIDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		inv, err := p.invitation(id)
		if err != nil {
			return nil, err
		}
		if inv.Status != InvitePending {
			return nil, Errorf(KindConflict, CodeInvitationNotPending,
				"invitation %s is %s; only a pending invitation can be revoked", inv.ID, inv.Status)
		}
		events = append(events, InvitationRevoked{Schema: SchemaV1, InvitationID: id})
	}
	return events, nil
}

// Accept makes the invitee a member: DESIGN invariants 5 and 6. Errors:
// CodeInvitationNotFound, CodeEmailUnverified, CodeNotInvitee, CodeAlreadyMember,
// and the code of whatever status keeps the invitation from being accepted.
func (p *Property) Accept(actor Actor, now time.Time, invitationID string) ([]Event, error) {
	inv, err := p.answerable(actor, now, invitationID)
	if err != nil {
		return nil, err
	}
	if m := p.Members[actor.AccountID]; m != nil {
		return nil, Errorf(KindConflict, CodeAlreadyMember,
			"your account is already a member of property %s as %s", p.ID, m.Email)
	}
	return []Event{
		InvitationAccepted{Schema: SchemaV1, InvitationID: inv.ID, AccountID: actor.AccountID},
		MemberJoined{Schema: SchemaV1, AccountID: actor.AccountID, Email: inv.Email, Role: inv.Role, InvitationID: inv.ID},
	}, nil
}

// Decline records the invitee's no. Errors as for Accept, less CodeAlreadyMember.
func (p *Property) Decline(actor Actor, now time.Time, invitationID string) ([]Event, error) {
	inv, err := p.answerable(actor, now, invitationID)
	if err != nil {
		return nil, err
	}
	return []Event{InvitationDeclined{Schema: SchemaV1, InvitationID: inv.ID}}, nil
}

// answerable returns the invitation when actor is its verified invitee and it
// is still pending and unexpired.
func (p *Property) answerable(actor Actor, now time.Time, invitationID string) (*Invitation, error) {
	if err := p.requireExists(); err != nil {
		return nil, err
	}
	inv, err := p.invitation(invitationID)
	if err != nil {
		return nil, err
	}
	if !actor.EmailVerified {
		return nil, Errorf(KindForbidden, CodeEmailUnverified,
			"your email is not verified; verify it before answering an invitation")
	}
	if email, err := NormalizeEmail(actor.Email); err != nil || email != inv.Email {
		return nil, Errorf(KindForbidden, CodeNotInvitee,
			"invitation %s is addressed to another email than yours", inv.ID)
	}
	switch inv.StatusAt(now) {
	case InvitePending:
		return inv, nil
	case InviteExpired:
		return nil, Errorf(KindConflict, CodeInvitationExpired,
			"invitation %s expired at %s; ask an admin to resend it", inv.ID, inv.ExpiresAt.Format(time.RFC3339))
	case InviteRevoked:
		return nil, Errorf(KindConflict, CodeInvitationRevoked, "invitation %s was revoked by an admin", inv.ID)
	case InviteDeclined:
		return nil, Errorf(KindConflict, CodeInvitationDeclined, "invitation %s was declined", inv.ID)
	default:
		return nil, Errorf(KindConflict, CodeInvitationAccepted, "invitation %s was already accepted", inv.ID)
	}
}
