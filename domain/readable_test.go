package domain_test

import (
	"testing"

	"github.com/rosterhq/roster/domain"
)

// readable asks whether a may read the property, as a decision that never
// returns events.
func readable(a domain.Actor) decision {
	return func(p *domain.Property) ([]domain.Event, error) { return nil, p.Readable(a) }
}

// TestReadable: only enabled members read a property; a disabled member, a
// removed one and an outsider are all told it does not exist, word for word
// as for a property that has no events.
func TestReadable(t *testing.T) {
	notFound := failure{kind: domain.KindNotFound, code: domain.CodePropertyNotFound, says: "property prop-1 does not exist"}
	run(t, []spec{
		{name: "the owner reads", given: team(), when: readable(owner)},
		{name: "an enabled agent reads", given: team(), when: readable(agent)},
		{name: "a disabled admin does not", given: team(), when: readable(offAdmin), fails: notFound},
		{name: "an outsider does not", given: team(), when: readable(outsider), fails: notFound},
		{name: "the invitee of a pending invitation does not", given: team(), when: readable(pat), fails: notFound},
		{name: "a removed member does not", given: events(team(), domain.MemberRemoved{Schema: domain.SchemaV1, AccountID: ted.AccountID}),
			when: readable(ted), fails: notFound},
		{name: "nobody reads a property that does not exist", when: readable(owner), fails: notFound},
	})
}
