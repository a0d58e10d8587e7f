package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/eventstore"
	"github.com/rosterhq/roster/readmodels"
)

// limitParam reads the limit query parameter of a paged list: 0 when it is
// absent, so the read model takes its default. The read model checks the
// range; this refuses only a limit that is no whole number.
func limitParam(q url.Values) (int, error) {
	raw := q.Get("limit")
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return 0, invalidQuery("limit", raw, "is not a whole number")
	}
	return n, nil
}

// ReadModels is what the API asks of the read side.
type ReadModels interface {
	Property(ctx context.Context, propertyID string) (readmodels.Property, error)
	InvitationPolicy(ctx context.Context, propertyID string) (readmodels.InvitationPolicy, error)
	Roles(ctx context.Context, propertyID string) ([]readmodels.Role, error)
	Membership(ctx context.Context, propertyID, accountID string) (readmodels.Member, bool, error)
	Members(ctx context.Context, propertyID string, f readmodels.MemberFilter) (readmodels.MemberPage, error)
	Invitations(ctx context.Context, propertyID string, f readmodels.InvitationFilter, now time.Time) (readmodels.InvitationPage, error)
	InvitationsForEmail(ctx context.Context, email, cursor string, limit int, now time.Time) (readmodels.MyInvitationPage, error)
	MyProperties(ctx context.Context, accountID, cursor string, limit int) (readmodels.MyPropertyPage, error)
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
//
// On a property's routes the caller is authorized before it may wait: an
// outsider gets its 404 at once, so it can neither hold a request open nor
// learn from how long one took. The callers the read models may wrongly
// call outsiders are those a change not applied yet makes readers: one
// who created the property or accepted an invitation to it, or a member an
// admin has just enabled again. So when the read models say no, the
// property's stream is asked (commands.MayReadHandler), which already holds
// every such change; its answer costs no more than a refused command.
func (s *server) consistent(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if raw := r.Header.Get("Roster-Min-Position"); raw != "" {
			pos, err := eventstore.ParsePosition(raw)
			if err != nil {
				writeError(w, r, domain.Errorf(domain.KindMalformed, domain.CodeInvalidHeader,
					"Roster-Min-Position: %v", err))
				return
			}
			at, err := s.reads.Position(r.Context())
			if err != nil {
				writeError(w, r, err)
				return
			}
			if at.Less(pos) {
				if pid := vars(r)["pid"]; pid != "" {
					may, err := s.mayWait(r, pid)
					if err != nil {
						writeError(w, r, err)
						return
					}
					if !may {
						// Not stale: becoming a reader takes a change
						// naming the caller, and none is pending.
						w.Header().Set("Roster-Position", at.String())
						writeError(w, r, notReadable(pid))
						return
					}
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
		}
		if pos, err := s.reads.Position(r.Context()); err == nil {
			w.Header().Set("Roster-Position", pos.String())
		}
		next(w, r)
	}
}

// mayWait reports whether the caller may wait for the read models on the
// property pid: they let it read now, or the property's stream does.
func (s *server) mayWait(r *http.Request, pid string) (bool, error) {
	switch err := s.canRead(r, pid); {
	case err == nil:
		return true, nil
	case domain.KindOf(err) != domain.KindNotFound:
		return false, err
	}
	m := commands.Meta{Actor: actorOf(r.Context()), CorrelationID: requestID(r.Context())}
	switch err := s.cmd.MayRead.Handle(r.Context(), m, pid); {
	case err == nil:
		return true, nil
	case domain.KindOf(err) == domain.KindNotFound:
		return false, nil
	default:
		return false, err
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
		return notReadable(propertyID)
	}
	return nil
}

// notReadable is what anyone who may not read a property is told: that it
// does not exist, which gives away nothing.
func notReadable(propertyID string) error {
	return domain.Errorf(domain.KindNotFound, domain.CodePropertyNotFound, "property %s does not exist", propertyID)
}
