package httpapi

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
)

func TestParseInviteRowsReadsEveryShape(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []commands.InviteRow
	}{
		{"one invitation from a form", `{"email":"a@example.com","role":"agent"}`,
			[]commands.InviteRow{{Email: "a@example.com", Role: "agent"}}},
		{"a list under invitations", `{"invitations":[{"email":"a@example.com","role":"agent"},{"email":"b@example.com","role":"admin"}]}`,
			[]commands.InviteRow{{Email: "a@example.com", Role: "agent"}, {Email: "b@example.com", Role: "admin"}}},
		{"a bare array from a CSV upload", ` [{"email":"a@example.com","role":"agent"}]`,
			[]commands.InviteRow{{Email: "a@example.com", Role: "agent"}}},
		{"an email alone is one row with no role, for the domain to refuse", `{"email":"a@example.com"}`,
			[]commands.InviteRow{{Email: "a@example.com"}}},
		{"a role alone is one row with no email, for the domain to refuse", `{"role":"agent"}`,
			[]commands.InviteRow{{Role: "agent"}}},
		{"values are passed on as sent, for the domain to normalise", `{"email":" A@Example.COM ","role":"Admin"}`,
			[]commands.InviteRow{{Email: " A@Example.COM ", Role: "Admin"}}},
		{"an empty object is no rows", `{}`, []commands.InviteRow{}},
		{"an empty list is no rows", `{"invitations":[]}`, []commands.InviteRow{}},
		{"an empty array is no rows", `[]`, []commands.InviteRow{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseInviteRows([]byte(tt.body))
			if err != nil {
				t.Fatalf("parseInviteRows: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseInviteRowsRefusesMixedOrUnknownShapes(t *testing.T) {
	tests := []struct {
		name string
		body string
		code string
	}{
		{"one invitation and a list at once", `{"email":"a@example.com","role":"agent","invitations":[]}`, domain.CodeMalformedJSON},
		{"a role next to a list", `{"role":"agent","invitations":[{"email":"a@example.com","role":"agent"}]}`, domain.CodeMalformedJSON},
		{"an unknown field at the top", `{"emails":["a@example.com"]}`, domain.CodeUnknownField},
		{"an unknown field in a listed row", `{"invitations":[{"email":"a@example.com","role":"agent","name":"A"}]}`, domain.CodeUnknownField},
		{"an unknown field in a bare row", `[{"email":"a@example.com","rol":"agent"}]`, domain.CodeUnknownField},
		{"a list that is an object", `{"invitations":{"email":"a@example.com"}}`, domain.CodeMalformedJSON},
		{"rows that are strings", `["a@example.com"]`, domain.CodeMalformedJSON},
		{"an email that is a number", `{"email":5,"role":"agent"}`, domain.CodeMalformedJSON},
		{"an empty body", ``, domain.CodeMalformedJSON},
		{"a string", `"a@example.com"`, domain.CodeMalformedJSON},
		{"two arrays", `[] []`, domain.CodeMalformedJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := parseInviteRows([]byte(tt.body))
			if rows != nil {
				t.Errorf("rows %+v next to the error, want none", rows)
			}
			wantDomainError(t, err, domain.KindMalformed, tt.code)
		})
	}
}
