package readmodels

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/domain"
)

// MemberHistory returns every change to the membership of accountID in pid,
// oldest first: the invitation it accepted with its resends, the acceptance
// and the join, role changes, disabling and enabling, ownership moving to or
// from it, and its removal or leaving; again for each time it rejoined. The
// history outlives the membership, so a removed member's is still there.
// It returns a *domain.Error of kind KindNotFound (CodeMemberNotFound) when
// the account has never been a member of pid.
func (s *Store) MemberHistory(ctx context.Context, pid, accountID string) ([]AuditEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+auditColumns+`
		FROM rm_audit_subjects s JOIN rm_audit a ON a.property_id = s.property_id AND a.revision = s.revision
		WHERE s.property_id = $1 AND s.subject_key = $2
		ORDER BY s.occurred_at, s.revision`, pid, accountID)
	if err != nil {
		return nil, fmt.Errorf("read history of %s in %s: %w", accountID, pid, err)
	}
	out, err := pgx.CollectRows(rows, scanAuditEntry)
	if err != nil {
		return nil, fmt.Errorf("read history of %s in %s: %w", accountID, pid, err)
	}
	if len(out) == 0 {
		return nil, domain.Errorf(domain.KindNotFound, domain.CodeMemberNotFound,
			"account %s has never been a member of property %s", accountID, pid)
	}
	return out, nil
}
