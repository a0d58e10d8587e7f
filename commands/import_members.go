package commands

import (
	"context"
	"time"

	"github.com/rosterhq/roster/domain"
)

// ImportRow is one member of an ImportMembers command, as the client sent it.
type ImportRow struct {
	AccountID string
	Email     string
	Role      string
}

// ImportMembers adds existing accounts to a property as members at once,
// all or nothing: an operator moving a property's members over from
// another system (domain.Property.ImportMembers).
type ImportMembers struct {
	PropertyID string
	Rows       []ImportRow
}

// ImportMembersHandler handles ImportMembers.
type ImportMembersHandler struct {
	exec *Executor
}

// Handle decides the import. The members' keys are made before the
// decision, as for invitees, so sealing a thousand new emails does not
// happen inside the property's turn; but only once the state says the
// caller may import, so nobody else makes a thousand keys a request.
func (h ImportMembersHandler) Handle(ctx context.Context, m Meta, c ImportMembers) (Result, error) {
	emails := make([]string, len(c.Rows))
	rows := make([]domain.ImportRow, len(c.Rows))
	for i, r := range c.Rows {
		emails[i] = r.Email
		rows[i] = domain.ImportRow{AccountID: r.AccountID, Email: r.Email, Role: r.Role}
	}
	may := h.exec.Inspect(ctx, m, c.PropertyID, func(p *domain.Property, _ time.Time, _ IDs) ([]domain.Event, error) {
		return nil, p.MayImportMembers(m.Actor)
	})
	if may == nil && len(rows) <= domain.MaxImportRows {
		h.exec.prepare(ctx, m.Actor, emails)
	}
	return h.exec.Run(ctx, m, c.PropertyID, func(p *domain.Property, now time.Time, _ IDs) ([]domain.Event, error) {
		return p.ImportMembers(m.Actor, now, rows)
	})
}
