package domain_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rosterhq/roster/domain"
)

func importing(a domain.Actor, rows ...domain.ImportRow) decision {
	return func(p *domain.Property) ([]domain.Event, error) { return p.ImportMembers(a, tNow, rows) }
}

func importRow(id, email, role string) domain.ImportRow {
	return domain.ImportRow{AccountID: id, Email: email, Role: role}
}

// importRows returns n good rows.
func importRows(n int) []domain.ImportRow {
	out := make([]domain.ImportRow, n)
	for i := range out {
		out[i] = importRow(fmt.Sprintf("acc-imp-%04d", i), fmt.Sprintf("imp%04d@example.com", i), "agent")
	}
	return out
}

func memberJoined(id, email string, r domain.Role) domain.MemberJoined {
	return domain.MemberJoined{Schema: domain.SchemaV1, AccountID: id, Email: email, Role: r}
}

func TestImportMembers(t *testing.T) {
	thousand := make([]domain.Event, domain.MaxImportRows)
	for i, r := range importRows(domain.MaxImportRows) {
		thousand[i] = memberJoined(r.AccountID, r.Email, domain.RoleAgent)
	}
	run(t, []spec{
		{
			name:  "the owner imports members, each a MemberJoined without invitation, in order and normalised",
			given: team(),
			when:  importing(owner, importRow("acc-x", " X@Example.COM ", "Admin"), importRow("acc-y", "y@example.com", "agent")),
			then: []domain.Event{memberJoined("acc-x", "x@example.com", domain.RoleAdmin),
				memberJoined("acc-y", "y@example.com", domain.RoleAgent)},
		},
		{
			name:  "a thousand rows are imported together",
			given: created(),
			when:  importing(owner, importRows(domain.MaxImportRows)...),
			then:  thousand,
		},
		{
			name:  "a thousand and one rows are refused",
			given: created(),
			when:  importing(owner, importRows(domain.MaxImportRows+1)...),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeTooManyImportRows, says: "1001"},
		},
		{
			name:  "no row is refused",
			given: created(),
			when:  importing(owner),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeNoImportRows},
		},
		{
			name:  "an admin who does not own the property may not import",
			given: team(),
			when:  importing(admin, importRows(1)...),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeImportNotOwner},
		},
		{
			name:  "an agent may not import",
			given: team(),
			when:  importing(agent, importRows(1)...),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeForbidden},
		},
		{
			name:  "a disabled admin may not import",
			given: team(),
			when:  importing(offAdmin, importRows(1)...),
			fails: failure{kind: domain.KindForbidden, code: domain.CodeAccessDisabled},
		},
		{
			name:  "an outsider is told the property does not exist",
			given: team(),
			when:  importing(outsider, importRows(1)...),
			fails: failure{kind: domain.KindNotFound, code: domain.CodePropertyNotFound},
		},
		{
			name:  "a property that does not exist",
			when:  importing(owner, importRows(1)...),
			fails: failure{kind: domain.KindNotFound, code: domain.CodePropertyNotFound},
		},
		{
			name:  "an empty account ID",
			given: created(),
			when:  importing(owner, importRow("", "a@example.com", "agent")),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidAccountID},
		},
		{
			name:  "an account ID with a space",
			given: created(),
			when:  importing(owner, importRow("acc 1", "a@example.com", "agent")),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidAccountID, says: "space"},
		},
		{
			name:  "an account ID with a control character",
			given: created(),
			when:  importing(owner, importRow("acc\x001", "a@example.com", "agent")),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidAccountID},
		},
		{
			name:  "an account ID that is not UTF-8",
			given: created(),
			when:  importing(owner, importRow("acc\xff", "a@example.com", "agent")),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidAccountID},
		},
		{
			name:  "an account ID too long",
			given: created(),
			when:  importing(owner, importRow(strings.Repeat("a", 256), "a@example.com", "agent")),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidAccountID, says: "256"},
		},
		{
			name:  "an invalid email",
			given: created(),
			when:  importing(owner, importRow("acc-1", "not-an-email", "agent")),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidEmail, says: "not-an-email"},
		},
		{
			name:  "an unknown role",
			given: created(),
			when:  importing(owner, importRow("acc-1", "a@example.com", "owner")),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidRole},
		},
		{
			name:  "an account that is a member already",
			given: team(),
			when:  importing(owner, importRow(ted.AccountID, "new-ted@example.com", "agent")),
			fails: failure{kind: domain.KindConflict, code: domain.CodeAlreadyMember, says: ted.AccountID},
		},
		{
			name:  "a disabled member's account",
			given: team(),
			when:  importing(owner, importRow(offAgent.AccountID, "other@example.com", "agent")),
			fails: failure{kind: domain.KindConflict, code: domain.CodeAlreadyMember, says: "disabled"},
		},
		{
			name:  "an email that a member has under another account",
			given: team(),
			when:  importing(owner, importRow("acc-new", strings.ToUpper(ted.Email), "agent")),
			fails: failure{kind: domain.KindConflict, code: domain.CodeAlreadyMember, says: ted.AccountID},
		},
		{
			name:  "an email with a pending invitation",
			given: team(),
			when:  importing(owner, importRow(pat.AccountID, pat.Email, "agent")),
			fails: failure{kind: domain.KindConflict, code: domain.CodeAlreadyInvited, says: "inv-pat"},
		},
		{
			name:  "an email whose invitation has expired may be imported",
			given: events(created(), invited("inv-old", pat.Email, domain.RoleAgent, gone)),
			when:  importing(owner, importRow(pat.AccountID, pat.Email, "agent")),
			then:  []domain.Event{memberJoined(pat.AccountID, pat.Email, domain.RoleAgent)},
		},
		{
			name:  "a member who left may be imported again",
			given: events(team(), domain.MemberLeft{Schema: domain.SchemaV1, AccountID: ted.AccountID}),
			when:  importing(owner, importRow(ted.AccountID, ted.Email, "admin")),
			then:  []domain.Event{memberJoined(ted.AccountID, ted.Email, domain.RoleAdmin)},
		},
	})
}

// Every bad row of an import is reported at once, and nothing is imported.
func TestImportMembersReportsEveryBadRow(t *testing.T) {
	ignoreMessage := cmpopts.IgnoreFields(domain.Problem{}, "Message")
	tests := []struct {
		name     string
		rows     []domain.ImportRow
		kind     domain.Kind
		problems []domain.Problem
	}{
		{
			name: "malformed and conflicting rows together are invalid",
			rows: []domain.ImportRow{
				importRow("acc-0", "good@example.com", "agent"),
				importRow("", "bad-email", "boss"),
				importRow("acc-0", "GOOD@example.com", "admin"),
				importRow(ted.AccountID, "fresh@example.com", "agent"),
				importRow("acc-4", pat.Email, "agent"),
			},
			kind: domain.KindInvalid,
			problems: []domain.Problem{
				{Index: 1, Field: "account_id", Value: "", Code: domain.CodeInvalidAccountID},
				{Index: 1, Field: "email", Value: "bad-email", Code: domain.CodeInvalidEmail},
				{Index: 1, Field: "role", Value: "boss", Code: domain.CodeInvalidRole},
				{Index: 2, Field: "account_id", Value: "acc-0", Code: domain.CodeDuplicateAccount},
				{Index: 2, Field: "email", Value: "GOOD@example.com", Code: domain.CodeDuplicateEmail},
				{Index: 3, Field: "account_id", Value: ted.AccountID, Code: domain.CodeAlreadyMember},
				{Index: 4, Field: "email", Value: pat.Email, Code: domain.CodeAlreadyInvited},
			},
		},
		{
			name: "only conflicting rows are a conflict",
			rows: []domain.ImportRow{
				importRow(ted.AccountID, "fresh@example.com", "agent"),
				importRow("acc-1", "fine@example.com", "agent"),
				importRow("acc-2", admin.Email, "agent"),
			},
			kind: domain.KindConflict,
			problems: []domain.Problem{
				{Index: 0, Field: "account_id", Value: ted.AccountID, Code: domain.CodeAlreadyMember},
				{Index: 2, Field: "email", Value: admin.Email, Code: domain.CodeAlreadyMember},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := given(team()...).ImportMembers(owner, tNow, tt.rows)
			if got != nil {
				t.Errorf("events %v, want none", got)
			}
			var de *domain.Error
			if !errors.As(err, &de) {
				t.Fatalf("error %v, want a *domain.Error", err)
			}
			if de.Kind != tt.kind || de.Code != domain.CodeInvalidImport {
				t.Errorf("error %s/%s, want %s/%s", de.Kind, de.Code, tt.kind, domain.CodeInvalidImport)
			}
			if diff := cmp.Diff(tt.problems, de.Problems, ignoreMessage); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// An imported member is a member like any other once its event is applied.
func TestImportedMembersAreMembers(t *testing.T) {
	p := given(created()...)
	evs, err := p.ImportMembers(owner, tNow, []domain.ImportRow{importRow("acc-x", "x@example.com", "admin")})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		p.Apply(e, tNow)
	}
	x := domain.Actor{AccountID: "acc-x", Email: "x@example.com", EmailVerified: true}
	if _, err := p.ChangeRole(x, ted.AccountID, "agent"); domain.CodeOf(err) != domain.CodeMemberNotFound {
		t.Errorf("the imported admin acting: %v, want member_not_found for an unknown target (the admin may act)", err)
	}
	if _, err := p.ImportMembers(owner, tNow, []domain.ImportRow{importRow("acc-x", "x2@example.com", "agent")}); domain.CodeOf(err) != domain.CodeAlreadyMember {
		t.Errorf("importing the imported account again: %v, want already_member", err)
	}
}
