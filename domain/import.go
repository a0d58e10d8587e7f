package domain

import (
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxImportRows bounds one import: a thousand members are one append of a
// thousand events, well inside a request's time, and a property of a
// hundred thousand is a hundred requests.
const MaxImportRows = 1000

// maxAccountIDBytes bounds an imported account ID, as a token's subject
// would be: identity providers issue IDs far shorter.
const maxAccountIDBytes = 255

// ImportRow is one member of an import, as the client sent it: an account
// that is a member elsewhere already (another system), under its email.
type ImportRow struct {
	AccountID string
	Email     string
	Role      string
}

// ImportMembers adds accounts as members at once, without invitations: an
// operator moving a property's existing members over from another system.
// Each row becomes a MemberJoined without an invitation, the event the
// read models and the audit already know, with the importer as its actor.
//
// Only the property's owner may import: an import makes accounts members
// (admins among them) who never accepted anything, which answers for the
// property's membership as a whole, as a transfer of ownership does; admins
// invite instead. Like a bulk invite it is all or nothing and reports every
// bad row at once: the error's kind is KindInvalid when any row is
// malformed, else KindConflict (a member already, or a pending invitee:
// accept or revoke the invitation first).
func (p *Property) ImportMembers(actor Actor, now time.Time, rows []ImportRow) ([]Event, error) {
	if err := p.MayImportMembers(actor); err != nil {
		return nil, err
	}
	switch {
	case len(rows) == 0:
		return nil, Errorf(KindInvalid, CodeNoImportRows, "at least one member to import is required")
	case len(rows) > MaxImportRows:
		return nil, Errorf(KindInvalid, CodeTooManyImportRows,
			"%d members in one import; at most %d are allowed", len(rows), MaxImportRows)
	}
	var problems []Problem
	malformed := false
	bad := func(i int, field, value, code, msg string, invalid bool) {
		malformed = malformed || invalid
		problems = append(problems, Problem{Index: i, Field: field, Value: value, Code: code, Message: msg})
	}
	byEmail, byAccount := map[string]int{}, map[string]int{}
	events := make([]Event, 0, len(rows))
	for i, r := range rows {
		idErr := checkAccountID(r.AccountID)
		email, emailErr := NormalizeEmail(r.Email)
		role, roleErr := p.resolveRole(r.Role)
		for _, f := range []struct {
			field, value string
			err          error
		}{{"account_id", r.AccountID, idErr}, {"email", r.Email, emailErr}, {"role", r.Role, roleErr}} {
			if f.err != nil {
				bad(i, f.field, f.value, CodeOf(f.err), f.err.Error(), true)
			}
		}
		if idErr == nil {
			if first, dup := byAccount[r.AccountID]; dup {
				bad(i, "account_id", r.AccountID, CodeDuplicateAccount,
					"account "+r.AccountID+" is already imported by row "+strconv.Itoa(first)+" of this request", true)
				idErr = errDuplicate
			} else {
				byAccount[r.AccountID] = i
			}
		}
		if emailErr == nil {
			if first, dup := byEmail[email]; dup {
				bad(i, "email", r.Email, CodeDuplicateEmail,
					"email "+email+" is already imported by row "+strconv.Itoa(first)+" of this request", true)
				emailErr = errDuplicate
			} else {
				byEmail[email] = i
			}
		}
		if idErr == nil {
			if m := p.Members[r.AccountID]; m != nil {
				bad(i, "account_id", r.AccountID, CodeAlreadyMember,
					"account "+r.AccountID+" is already a "+string(m.Status)+" member of this property", false)
				continue
			}
		}
		if emailErr == nil {
			if m := p.memberByEmail(email); m != nil {
				bad(i, "email", r.Email, CodeAlreadyMember,
					email+" is already a "+string(m.Status)+" member of this property, as account "+m.AccountID, false)
				continue
			}
			if inv := p.pendingInvitation(email, now); inv != nil {
				bad(i, "email", r.Email, CodeAlreadyInvited,
					email+" has pending invitation "+inv.ID+"; revoke it or let it be accepted instead", false)
				continue
			}
		}
		if idErr != nil || emailErr != nil || roleErr != nil {
			continue
		}
		events = append(events, MemberJoined{Schema: SchemaV1, AccountID: r.AccountID, Email: email, Role: role})
	}
	if len(problems) > 0 {
		refused := map[int]bool{}
		for _, pr := range problems {
			refused[pr.Index] = true
		}
		return nil, refusedRows(problems, malformed, CodeInvalidImport,
			strconv.Itoa(len(refused))+" rows cannot be imported; nothing was imported")
	}
	return events, nil
}

// MayImportMembers returns nil when actor may import members: the
// property's owner, enabled. Anyone else gets the error ImportMembers
// would give them.
func (p *Property) MayImportMembers(actor Actor) error {
	if err := p.authorize(actor, PermManageMembers); err != nil {
		return err
	}
	if actor.AccountID != p.OwnerID {
		return Errorf(KindForbidden, CodeImportNotOwner, "only the owner of property %s may import members; invite them instead", p.ID)
	}
	return nil
}

// errDuplicate marks a row's value as refused already, so no later check
// reports it again.
var errDuplicate = Errorf(KindInvalid, CodeInvalidRequest, "duplicate")

// checkAccountID refuses an account ID no token could carry as its
// subject: empty, longer than maxAccountIDBytes, not UTF-8, or holding a
// space or a control character (which would make it read differently
// from how it is stored).
func checkAccountID(id string) error {
	switch {
	case id == "":
		return Errorf(KindInvalid, CodeInvalidAccountID, "account_id must not be empty")
	case len(id) > maxAccountIDBytes:
		return Errorf(KindInvalid, CodeInvalidAccountID, "account_id is %d bytes long; at most %d are allowed", len(id), maxAccountIDBytes)
	case !utf8.ValidString(id):
		return Errorf(KindInvalid, CodeInvalidAccountID, "account_id %s is not UTF-8", quote(id))
	case strings.IndexFunc(id, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || isBidiControl(r) }) >= 0:
		return Errorf(KindInvalid, CodeInvalidAccountID, "account_id %s holds a space or a control character", quote(id))
	}
	return nil
}
