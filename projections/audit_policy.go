package projections

import (
	"time"

	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/recorded"
)

// auditPolicyChanged writes the row of a new invitation policy: the
// property is the subject, and the after value says both lifetimes as
// people read them ("default 3 days; maximum 14 days"). The policy before
// is not in the event, so the before value stays empty.
func auditPolicyChanged(s *auditBatch, e recorded.Event, ev domain.InvitationPolicyChanged) error {
	def := domain.Lifetime(time.Duration(ev.DefaultLifetimeSeconds) * time.Second)
	max := domain.Lifetime(time.Duration(ev.MaximumLifetimeSeconds) * time.Second)
	return writeAudit(s, e, auditEntry{kind: SubjectProperty, id: e.PropertyID,
		field: "invitation_policy", after: "default " + def.String() + "; maximum " + max.String()})
}
