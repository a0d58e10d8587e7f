package readmodels

import (
	"context"
	"fmt"
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

// Invitations returns the invitations of pid with the given status at time
// now, newest first. Status "" means pending; "pending" keeps invitations not
// yet expired and "expired" those whose expires_at is at or before now;
// "accepted", "revoked" and "declined" keep those; "all" keeps every one. An
// unknown property gives an empty list. Any other status returns a
// *domain.Error of kind KindInvalid (CodeInvalidRequest) naming it.
func (s *Store) Invitations(ctx context.Context, pid, status string, now time.Time) ([]Invitation, error) {
	var cond string
	args := []any{pid, now}
	switch st := strings.ToLower(strings.TrimSpace(status)); st {
	case "", string(domain.InvitePending):
		cond = `AND status = 'pending' AND expires_at > $2`
	case string(domain.InviteExpired):
		cond = `AND status = 'pending' AND expires_at <= $2`
	case string(domain.InviteAccepted), string(domain.InviteRevoked), string(domain.InviteDeclined):
		cond = `AND status = $3`
		args = append(args, st)
	case InvitationStatusAll:
	default:
		return nil, invalid("status", status, "is not one of pending, accepted, revoked, declined, expired, all")
	}
	rows, err := s.pool.Query(ctx, `SELECT invitation_id, email, role,
		CASE WHEN status = 'pending' AND expires_at <= $2 THEN 'expired' ELSE status END,
		invited_by, created_at, expires_at, updated_at
		FROM rm_invitations WHERE property_id = $1 `+cond+`
		ORDER BY created_at DESC, invitation_id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("read invitations of %s: %w", pid, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Invitation, error) {
		var (
			inv          Invitation
			role, status string
		)
		err := row.Scan(&inv.ID, &inv.Email, &role, &status, &inv.InvitedBy, &inv.CreatedAt, &inv.ExpiresAt, &inv.UpdatedAt)
		inv.Role, inv.Status = domain.Role(role), domain.InvitationStatus(status)
		utc(&inv.CreatedAt, &inv.ExpiresAt, &inv.UpdatedAt)
		return inv, err
	})
	if err != nil {
		return nil, fmt.Errorf("read invitations of %s: %w", pid, err)
	}
	return out, nil
}

// InvitationsForEmail returns the invitations addressed to email that are
// pending and not expired at time now, newest first. The email is compared
// trimmed and lower-cased, as the domain stores it.
func (s *Store) InvitationsForEmail(ctx context.Context, email string, now time.Time) ([]MyInvitation, error) {
	rows, err := s.pool.Query(ctx, `SELECT invitation_id, property_id, property_name, role,
		invited_by, invited_by_email, created_at, expires_at
		FROM rm_my_invitations WHERE email = $1 AND expires_at > $2
		ORDER BY created_at DESC, property_id, invitation_id DESC`,
		strings.ToLower(strings.TrimSpace(email)), now)
	if err != nil {
		return nil, fmt.Errorf("read invitations for an email: %w", err)
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
		return nil, fmt.Errorf("read invitations for an email: %w", err)
	}
	return out, nil
}
