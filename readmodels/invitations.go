package readmodels

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
)

// Invitation is one invitation of a property. Status is derived at the time
// of the query: a pending invitation whose expiry has passed is expired.
type Invitation struct {
	ID        string                  `json:"id"`
	Email     string                  `json:"email"`
	Role      domain.Role             `json:"role"`
	Status    domain.InvitationStatus `json:"status"`
	InvitedBy string                  `json:"invited_by"`
	CreatedAt time.Time               `json:"created_at"`
	ExpiresAt time.Time               `json:"expires_at"`
	UpdatedAt time.Time               `json:"updated_at"`
	// AccessUntil is when the membership offered ends; null when it does not.
	AccessUntil *time.Time `json:"access_until"`
}

// MyInvitation is a pending invitation addressed to the caller's email, for
// the dashboard's notifications.
type MyInvitation struct {
	ID             string      `json:"id"`
	PropertyID     string      `json:"property_id"`
	PropertyName   string      `json:"property_name"`
	Role           domain.Role `json:"role"`
	InvitedBy      string      `json:"invited_by"`
	InvitedByEmail string      `json:"invited_by_email"`
	CreatedAt      time.Time   `json:"created_at"`
	ExpiresAt      time.Time   `json:"expires_at"`
}

// InvitationStatusAll is the Invitations filter that keeps every invitation.
const InvitationStatusAll = "all"

// Page sizes of Invitations and InvitationsForEmail.
const (
	DefaultInvitationLimit = 50
	MaxInvitationLimit     = 200
)

// InvitationFilter selects and pages the invitations of a property. Every
// field is optional.
type InvitationFilter struct {
	// Status is "" or "pending" (not yet expired), "expired" (pending past
	// expires_at), "accepted", "revoked", "declined" or "all".
	Status string
	// Cursor continues after the page that returned it as NextCursor.
	Cursor string
	// Limit is the page size: 0 means DefaultInvitationLimit; at most
	// MaxInvitationLimit.
	Limit int
}

// InvitationPage is one page of a property's invitations.
type InvitationPage struct {
	Invitations []Invitation `json:"invitations"`
	// NextCursor fetches the next page; it is empty on the last page.
	NextCursor string `json:"next_cursor"`
}

// Invitations returns one page of the invitations of pid that pass f at
// time now, newest first (by created_at, then invitation ID) and paged by
// that key. An unknown property gives an empty page. It returns a
// *domain.Error of kind KindInvalid (CodeInvalidRequest) naming the bad
// value for an unknown status, a cursor this API did not give out, or a
// limit outside 0..MaxInvitationLimit.
func (s *Store) Invitations(ctx context.Context, pid string, f InvitationFilter, now time.Time) (InvitationPage, error) {
	where := []string{"property_id = $1"}
	args := []any{pid, now}
	switch st := strings.ToLower(strings.TrimSpace(f.Status)); st {
	case "", string(domain.InvitePending):
		where = append(where, `status = 'pending' AND expires_at > $2`)
	case string(domain.InviteExpired):
		where = append(where, `status = 'pending' AND expires_at <= $2`)
	case string(domain.InviteAccepted), string(domain.InviteRevoked), string(domain.InviteDeclined):
		args = append(args, st)
		where = append(where, "status = $"+strconv.Itoa(len(args)))
	case InvitationStatusAll:
	default:
		return InvitationPage{}, invalid("status", f.Status, "is not one of pending, accepted, revoked, declined, expired, all")
	}
	if f.Cursor != "" {
		key, err := decodeCursor[invitationKey](f.Cursor)
		if err != nil || key.PropertyID != nil {
			return InvitationPage{}, invalid("cursor", f.Cursor, "is not a cursor this API gave out")
		}
		args = append(args, time.UnixMicro(*key.At).UTC(), *key.ID)
		where = append(where, fmt.Sprintf("(created_at, invitation_id) < ($%d, $%d)", len(args)-1, len(args)))
	}
	limit, err := pageLimit(f.Limit, DefaultInvitationLimit, MaxInvitationLimit)
	if err != nil {
		return InvitationPage{}, err
	}
	// One row more than the page tells whether another page follows.
	args = append(args, limit+1)
	rows, err := s.pool.Query(ctx, `SELECT invitation_id, email, role,
		CASE WHEN status = 'pending' AND expires_at <= $2 THEN 'expired' ELSE status END,
		invited_by, created_at, expires_at, updated_at, access_until
		FROM rm_invitations WHERE `+strings.Join(where, " AND ")+`
		ORDER BY created_at DESC, invitation_id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return InvitationPage{}, fmt.Errorf("read invitations of %s: %w", pid, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Invitation, error) {
		var (
			inv          Invitation
			role, status string
		)
		err := row.Scan(&inv.ID, &inv.Email, &role, &status, &inv.InvitedBy, &inv.CreatedAt, &inv.ExpiresAt, &inv.UpdatedAt, &inv.AccessUntil)
		inv.Role, inv.Status = domain.Role(role), domain.InvitationStatus(status)
		utc(&inv.CreatedAt, &inv.ExpiresAt, &inv.UpdatedAt)
		if inv.AccessUntil != nil {
			utc(inv.AccessUntil)
		}
		return inv, err
	})
	if err != nil {
		return InvitationPage{}, fmt.Errorf("read invitations of %s: %w", pid, err)
	}
	page := InvitationPage{Invitations: out}
	if len(out) > limit {
		page.Invitations = out[:limit]
		last := page.Invitations[limit-1]
		page.NextCursor = encodeCursor(newInvitationKey(last.CreatedAt, "", last.ID))
	}
	return page, nil
}

// MyInvitationPage is one page of the invitations addressed to an email.
type MyInvitationPage struct {
	Invitations []MyInvitation `json:"invitations"`
	// NextCursor fetches the next page; it is empty on the last page.
	NextCursor string `json:"next_cursor"`
}

// InvitationsForEmail returns one page of the invitations addressed to
// email that are pending and not expired at time now, newest first (then
// by property ID, then newest invitation ID) and paged by that key. The
// email is compared in its normal form (domain.NormalizeEmail), as the
// domain stores it; an address the domain refuses (a Kelvin sign for a k,
// a NUL) has none. cursor continues after the page that returned it;
// limit 0 means DefaultInvitationLimit. It returns a *domain.Error of kind
// KindInvalid (CodeInvalidRequest) for a cursor this API did not give out
// or a limit outside 0..MaxInvitationLimit.
func (s *Store) InvitationsForEmail(ctx context.Context, email, cursor string, limit int, now time.Time) (MyInvitationPage, error) {
	limit, err := pageLimit(limit, DefaultInvitationLimit, MaxInvitationLimit)
	if err != nil {
		return MyInvitationPage{}, err
	}
	var after *invitationKey
	if cursor != "" {
		key, err := decodeCursor[invitationKey](cursor)
		if err != nil || key.PropertyID == nil {
			return MyInvitationPage{}, invalid("cursor", cursor, "is not a cursor this API gave out")
		}
		after = &key
	}
	email, err = domain.NormalizeEmail(email)
	if err != nil {
		return MyInvitationPage{Invitations: []MyInvitation{}}, nil
	}
	where, args := `email = $1 AND expires_at > $2`, []any{email, now}
	if after != nil {
		// The order mixes directions, so the key is compared part by part.
		args = append(args, time.UnixMicro(*after.At).UTC(), *after.PropertyID, *after.ID)
		where += ` AND (created_at < $3 OR (created_at = $3 AND (property_id > $4 OR (property_id = $4 AND invitation_id < $5))))`
	}
	args = append(args, limit+1)
	rows, err := s.pool.Query(ctx, `SELECT invitation_id, property_id, property_name, role,
		invited_by, invited_by_email, created_at, expires_at
		FROM rm_my_invitations WHERE `+where+`
		ORDER BY created_at DESC, property_id, invitation_id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return MyInvitationPage{}, fmt.Errorf("read invitations for an email: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (MyInvitation, error) {
		var (
			inv  MyInvitation
			role string
		)
		err := row.Scan(&inv.ID, &inv.PropertyID, &inv.PropertyName, &role,
			&inv.InvitedBy, &inv.InvitedByEmail, &inv.CreatedAt, &inv.ExpiresAt)
		inv.Role = domain.Role(role)
		utc(&inv.CreatedAt, &inv.ExpiresAt)
		return inv, err
	})
	if err != nil {
		return MyInvitationPage{}, fmt.Errorf("read invitations for an email: %w", err)
	}
	page := MyInvitationPage{Invitations: out}
	if len(out) > limit {
		page.Invitations = out[:limit]
		last := page.Invitations[limit-1]
		page.NextCursor = encodeCursor(newInvitationKey(last.CreatedAt, last.PropertyID, last.ID))
	}
	return page, nil
}

// invitationKey is the sort key of the last invitation of a page, which
// the opaque cursor carries as base64url JSON: the creation time in Unix
// microseconds (what PostgreSQL keeps), the property for a page of
// InvitationsForEmail, and the invitation ID.
type invitationKey struct {
	At         *int64  `json:"t"`
	PropertyID *string `json:"p,omitempty"`
	ID         *string `json:"i"`
}

func newInvitationKey(created time.Time, pid, id string) invitationKey {
	at := created.UnixMicro()
	k := invitationKey{At: &at, ID: &id}
	if pid != "" {
		k.PropertyID = &pid
	}
	return k
}

// check refuses an invitation cursor that lacks its time or ID.
func (k invitationKey) check() error {
	if k.At == nil || k.ID == nil {
		return fmt.Errorf("cursor lacks its time or invitation id")
	}
	return nil
}
