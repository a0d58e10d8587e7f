package projections

import (
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/infra/recorded"
)

// auditPolicyChanged writes the row of a new invitation policy: the
// property is the subject, and the after value says both lifetimes as
// people read them ("default 3 days; maximum 14 days"). The policy before
// is not in the event, so the before value stays empty.
func auditPolicyChanged(s *auditBatch, e recorded.Event, ev domain.InvitationPolicyChanged) error {
	def, max := domain.Lifetime(ev.DefaultLifetimeSeconds), domain.Lifetime(ev.MaximumLifetimeSeconds)
	return writeAudit(s, e, auditEntry{kind: SubjectProperty, id: e.PropertyID,
		field: "invitation_policy", after: "default " + def.String() + "; maximum " + max.String()})
}
