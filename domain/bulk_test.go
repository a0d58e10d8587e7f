package domain_test

import (
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
