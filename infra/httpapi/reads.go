package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/readmodels"
)

// ReadModels is what the API asks of the read side.
type ReadModels interface {
	Property(ctx context.Context, propertyID string) (readmodels.Property, error)
	Membership(ctx context.Context, propertyID, accountID string) (readmodels.Member, bool, error)
	Members(ctx context.Context, propertyID string, f readmodels.MemberFilter) (readmodels.MemberPage, error)
	Invitations(ctx context.Context, propertyID, status string, now time.Time) ([]readmodels.Invitation, error)
	InvitationsForEmail(ctx context.Context, email string, now time.Time) ([]readmodels.MyInvitation, error)
	MyProperties(ctx context.Context, accountID string) ([]readmodels.MyProperty, error)
	Access(ctx context.Context, propertyID, accountID string) (readmodels.Access, error)
	Audit(ctx context.Context, propertyID string, f readmodels.AuditFilter) (readmodels.AuditPage, error)
	EachAudit(ctx context.Context, propertyID string, f readmodels.AuditFilter, fn func(readmodels.AuditEntry) error) error
	MemberHistory(ctx context.Context, propertyID, accountID string) ([]readmodels.AuditEntry, error)
	Notifications(ctx context.Context, to readmodels.Recipient, f readmodels.NotificationFilter) (readmodels.NotificationPage, error)
	UnreadNotifications(ctx context.Context, to readmodels.Recipient) (int, error)
	MarkNotificationsRead(ctx context.Context, to readmodels.Recipient, ids []string, all bool) (int, error)
	WaitFor(ctx context.Context, pos eventstore.Position, max time.Duration) (bool, error)
	Position(ctx context.Context) (eventstore.Position, error)
}

// consistent makes a query wait (bounded) until the read models have
// reached the position the client sends in Roster-Min-Position, so a user
// sees their own change. It answers with the position the read models had
// reached, and Roster-Consistency: stale when the wait ran out.
func (s *server) consistent(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if raw := r.Header.Get("Roster-Min-Position"); raw != "" {
			pos, err := eventstore.ParsePosition(raw)
			if err != nil {
				writeError(w, r, domain.Errorf(domain.KindMalformed, domain.CodeInvalidHeader,
					"Roster-Min-Position: %v", err))
				return
			}
			reached, err := s.reads.WaitFor(r.Context(), pos, s.maxWait)
			if err != nil {
				writeError(w, r, err)
				return
			}
			if !reached {
				w.Header().Set("Roster-Consistency", "stale")
			}
		}
		if pos, err := s.reads.Position(r.Context()); err == nil {
			w.Header().Set("Roster-Position", pos.String())
		}
		next(w, r)
	}
}

// canRead checks that the caller is an enabled member of the property.
// Anyone else is told the property does not exist, which gives away nothing.
func (s *server) canRead(r *http.Request, propertyID string) error {
	m, ok, err := s.reads.Membership(r.Context(), propertyID, actorOf(r.Context()).AccountID)
	if err != nil {
		return err
	}
	if !ok || !m.CanRead() {
		return domain.Errorf(domain.KindNotFound, domain.CodePropertyNotFound, "property %s does not exist", propertyID)
	}
	return nil
}
