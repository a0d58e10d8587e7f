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

// rows returns n good invitation rows.
func rows(n int) []domain.InviteRequest {
	out := make([]domain.InviteRequest, n)
	for i := range out {
		out[i] = row(fmt.Sprintf("inv-%03d", i), fmt.Sprintf("user%03d@example.com", i), "agent")
	}
	return out
}

// Invariant 4: a bulk invite of up to 50 rows is all or nothing.
func TestInvariant4_BulkInviteBounds(t *testing.T) {
	fifty := make([]domain.Event, 50)
	for i, r := range rows(50) {
		fifty[i] = newInvite(owner, r.InvitationID, r.Email, domain.RoleAgent)
	}
	run(t, []spec{
		{
			name:  "fifty rows are invited together, in order",
			given: created(),
			when:  invite(owner, rows(50)...),
			then:  fifty,
		},
		{
			name:  "fifty-one rows are refused",
			given: created(),
			when:  invite(owner, rows(51)...),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeTooManyInvitations, says: "51"},
		},
		{
			name:  "zero rows are refused",
			given: created(),
			when:  invite(owner),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeNoInvitations},
		},
		{
			name:  "one bad row among good ones sends nothing and keeps its own code",
			given: created(),
			when:  invite(owner, append(rows(3), row("inv-bad", "not-an-email", "agent"))...),
			fails: failure{kind: domain.KindInvalid, code: domain.CodeInvalidEmail, says: "not-an-email"},
		},
		{
			name:  "one conflicting row among good ones sends nothing",
			given: team(),
			when:  invite(owner, append(rows(3), row("inv-bad", ted.Email, "agent"))...),
			fails: failure{kind: domain.KindConflict, code: domain.CodeAlreadyMember},
		},
	})
}

// Invariant 4: every bad row is reported at once, with index, field, value
// and code, whatever the mix of malformed and conflicting rows.
func TestInvariant4_BulkInviteReportsEveryBadRow(t *testing.T) {
	ignoreMessage := cmpopts.IgnoreFields(domain.Problem{}, "Message")
	tests := []struct {
		name     string
		rows     []domain.InviteRequest
		kind     domain.Kind
		problems []domain.Problem
	}{
		{
			name: "malformed and conflicting rows are all reported, as invalid",
			rows: []domain.InviteRequest{
				row("inv-0", "good@example.com", "agent"),
				row("inv-1", "bad-email", "agent"),
				row("inv-2", "role@example.com", "boss"),
				row("inv-3", "Good@Example.com", "admin"),
				row("inv-4", ted.Email, "agent"),
				row("inv-5", pat.Email, "agent"),
				row("inv-6", "two@@example.com", "chief"),
				row("inv-7", "fine@example.com", "admin"),
				row("inv-8", "good@example.com", "agent"),
			},
			kind: domain.KindInvalid,
			problems: []domain.Problem{
				{Index: 1, Field: "email", Value: "bad-email", Code: domain.CodeInvalidEmail},
				{Index: 2, Field: "role", Value: "boss", Code: domain.CodeInvalidRole},
				{Index: 3, Field: "email", Value: "Good@Example.com", Code: domain.CodeDuplicateEmail},
				{Index: 4, Field: "email", Value: ted.Email, Code: domain.CodeAlreadyMember},
				{Index: 5, Field: "email", Value: pat.Email, Code: domain.CodeAlreadyInvited},
				{Index: 6, Field: "email", Value: "two@@example.com", Code: domain.CodeInvalidEmail},
				{Index: 6, Field: "role", Value: "chief", Code: domain.CodeInvalidRole},
				{Index: 8, Field: "email", Value: "good@example.com", Code: domain.CodeDuplicateEmail},
			},
		},
		{
			name: "only conflicting rows are reported as a conflict",
			rows: []domain.InviteRequest{
				row("inv-0", offAdmin.Email, "agent"),
				row("inv-1", "new@example.com", "agent"),
				row("inv-2", " PAT@example.com", "agent"),
			},
			kind: domain.KindConflict,
			problems: []domain.Problem{
				{Index: 0, Field: "email", Value: offAdmin.Email, Code: domain.CodeAlreadyMember},
				{Index: 2, Field: "email", Value: " PAT@example.com", Code: domain.CodeAlreadyInvited},
			},
		},
		{
			name: "duplicates differing only by case and spaces are reported",
			rows: []domain.InviteRequest{
				row("inv-0", "dup@example.com", "agent"),
				row("inv-1", "DUP@EXAMPLE.COM", "agent"),
				row("inv-2", " dup@example.com ", "admin"),
			},
			kind: domain.KindInvalid,
			problems: []domain.Problem{
				{Index: 1, Field: "email", Value: "DUP@EXAMPLE.COM", Code: domain.CodeDuplicateEmail},
				{Index: 2, Field: "email", Value: " dup@example.com ", Code: domain.CodeDuplicateEmail},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := given(team()...).Invite(owner, tNow, ttl, tt.rows)
			check(t, got, err, nil, failure{kind: tt.kind, code: domain.CodeInvalidInvitations,
				says: fmt.Sprintf("%d invitations cannot be sent", len(tt.problems))})
			ps := problems(t, err)
			if diff := cmp.Diff(tt.problems, ps, ignoreMessage); diff != "" {
				t.Errorf("problems mismatch (-want +got):\n%s", diff)
			}
			for _, p := range ps {
				if p.Message == "" {
					t.Errorf("problem %+v has no message", p)
				}
			}
		})
	}
}

// A duplicate's message points at the row it repeats.
func TestInvariant4_DuplicateNamesTheFirstRow(t *testing.T) {
	_, err := given(created()...).Invite(owner, tNow, ttl, []domain.InviteRequest{
		row("inv-0", "a@example.com", "agent"),
		row("inv-1", "b@example.com", "agent"),
		row("inv-2", "A@example.com", "agent"),
	})
	ps := problems(t, err)
	if len(ps) != 1 || ps[0].Index != 2 || ps[0].Code != domain.CodeDuplicateEmail {
		t.Fatalf("problems = %+v, want one duplicate_email at row 2", ps)
	}
	if want := "row 0"; !strings.Contains(ps[0].Message, want) {
		t.Errorf("message %q does not name %q", ps[0].Message, want)
	}
}

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
	one := importRows(1)
	specs := []spec{
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
		{
			name:  "a property that does not exist",
			when:  importing(owner, one...),
			fails: failure{kind: domain.KindNotFound, code: domain.CodePropertyNotFound},
		},
	}
	// Each refusal below is decided on the team, by the owner unless it
	// says otherwise.
	refusals := []struct {
		name  string
		by    domain.Actor
		rows  []domain.ImportRow
		fails failure
	}{
		{"a thousand and one rows are refused", owner, importRows(domain.MaxImportRows + 1), failure{domain.KindInvalid, domain.CodeTooManyImportRows, "1001"}},
		{"no row is refused", owner, nil, failure{domain.KindInvalid, domain.CodeNoImportRows, ""}},
		{"an admin who does not own the property may not import", admin, one, failure{domain.KindForbidden, domain.CodeImportNotOwner, ""}},
		{"an agent may not import", agent, one, failure{domain.KindForbidden, domain.CodeForbidden, ""}},
		{"a disabled admin may not import", offAdmin, one, failure{domain.KindForbidden, domain.CodeAccessDisabled, ""}},
		{"an outsider is told the property does not exist", outsider, one, failure{domain.KindNotFound, domain.CodePropertyNotFound, ""}},
		{"an empty account ID", owner, []domain.ImportRow{importRow("", "a@example.com", "agent")}, failure{domain.KindInvalid, domain.CodeInvalidAccountID, ""}},
		{"an account ID with a space", owner, []domain.ImportRow{importRow("acc 1", "a@example.com", "agent")}, failure{domain.KindInvalid, domain.CodeInvalidAccountID, "space"}},
		{"an account ID with a control character", owner, []domain.ImportRow{importRow("acc\x001", "a@example.com", "agent")}, failure{domain.KindInvalid, domain.CodeInvalidAccountID, ""}},
		{"an account ID that is not UTF-8", owner, []domain.ImportRow{importRow("acc\xff", "a@example.com", "agent")}, failure{domain.KindInvalid, domain.CodeInvalidAccountID, ""}},
		{"an account ID too long", owner, []domain.ImportRow{importRow(strings.Repeat("a", 256), "a@example.com", "agent")}, failure{domain.KindInvalid, domain.CodeInvalidAccountID, "256"}},
		{"an invalid email", owner, []domain.ImportRow{importRow("acc-1", "not-an-email", "agent")}, failure{domain.KindInvalid, domain.CodeInvalidEmail, "not-an-email"}},
		{"an unknown role", owner, []domain.ImportRow{importRow("acc-1", "a@example.com", "owner")}, failure{domain.KindInvalid, domain.CodeInvalidRole, ""}},
		{"an account that is a member already", owner, []domain.ImportRow{importRow(ted.AccountID, "new-ted@example.com", "agent")}, failure{domain.KindConflict, domain.CodeAlreadyMember, ted.AccountID}},
		{"a disabled member's account", owner, []domain.ImportRow{importRow(offAgent.AccountID, "other@example.com", "agent")}, failure{domain.KindConflict, domain.CodeAlreadyMember, "disabled"}},
		{"an email that a member has under another account", owner, []domain.ImportRow{importRow("acc-new", strings.ToUpper(ted.Email), "agent")}, failure{domain.KindConflict, domain.CodeAlreadyMember, ted.AccountID}},
		{"an email with a pending invitation", owner, []domain.ImportRow{importRow(pat.AccountID, pat.Email, "agent")}, failure{domain.KindConflict, domain.CodeAlreadyInvited, "inv-pat"}},
	}
	for _, r := range refusals {
		specs = append(specs, spec{name: r.name, given: team(), when: importing(r.by, r.rows...), fails: r.fails})
	}
	run(t, specs)
}

// Every bad row of an import is reported at once, and nothing is imported.
func TestImportMembersReportsEveryBadRow(t *testing.T) {
	problem := func(i int, field, value, code string) domain.Problem {
		return domain.Problem{Index: i, Field: field, Value: value, Code: code}
	}
	for _, tt := range []struct {
		name string
		rows []domain.ImportRow
		want domain.Error
	}{
		{"malformed and conflicting rows together are invalid", []domain.ImportRow{
			importRow("acc-0", "good@example.com", "agent"),
			importRow("", "bad-email", "boss"),
			importRow("acc-0", "GOOD@example.com", "admin"),
			importRow(ted.AccountID, "fresh@example.com", "agent"),
			importRow("acc-4", pat.Email, "agent"),
		}, domain.Error{Kind: domain.KindInvalid, Code: domain.CodeInvalidImport, Message: "4 rows cannot be imported; nothing was imported",
			Problems: []domain.Problem{
				problem(1, "account_id", "", domain.CodeInvalidAccountID),
				problem(1, "email", "bad-email", domain.CodeInvalidEmail),
				problem(1, "role", "boss", domain.CodeInvalidRole),
				problem(2, "account_id", "acc-0", domain.CodeDuplicateAccount),
				problem(2, "email", "GOOD@example.com", domain.CodeDuplicateEmail),
				problem(3, "account_id", ted.AccountID, domain.CodeAlreadyMember),
				problem(4, "email", pat.Email, domain.CodeAlreadyInvited),
			}}},
		{"only conflicting rows are a conflict", []domain.ImportRow{
			importRow(ted.AccountID, "fresh@example.com", "agent"),
			importRow("acc-1", "fine@example.com", "agent"),
			importRow("acc-2", admin.Email, "agent"),
		}, domain.Error{Kind: domain.KindConflict, Code: domain.CodeInvalidImport, Message: "2 rows cannot be imported; nothing was imported",
			Problems: []domain.Problem{
				problem(0, "account_id", ted.AccountID, domain.CodeAlreadyMember),
				problem(2, "email", admin.Email, domain.CodeAlreadyMember),
			}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := given(team()...).ImportMembers(owner, tNow, tt.rows)
			var de *domain.Error
			if got != nil || !errors.As(err, &de) {
				t.Fatalf("events %v, error %v; want no events and a *domain.Error", got, err)
			}
			if diff := cmp.Diff(&tt.want, de, cmpopts.IgnoreFields(domain.Problem{}, "Message")); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
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
