package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestBadValuesOnEveryCommandRouteWriteNothing sends each command route the
// values, IDs and callers it must refuse, and checks that the property's
// stream and read models did not move.
func TestBadValuesOnEveryCommandRouteWriteNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	o, ag, in, out := f.owner.Token, f.agent.Token, f.invitee.Token, f.outsider.Token
	p := "/v1/properties/" + f.pid
	unknownP := "/v1/properties/" + uuid.NewString()
	unknownID := uuid.NewString()
	inv := p + "/invitations/" + f.pendingIID
	badEmailUser := mint(t, testSecret, "roster", "roster", uuid.NewString(), "not-an-email", true, time.Hour, time.Now())

	rows := func(n int) map[string]any {
		r := make([]map[string]string, n)
		for i := range r {
			r[i] = map[string]string{"email": fmt.Sprintf("guest%02d@example.com", i), "role": "agent"}
		}
		return map[string]any{"invitations": r}
	}
	importRows := func(n int) map[string]any {
		r := make([]map[string]string, n)
		for i := range r {
			r[i] = map[string]string{"account_id": fmt.Sprintf("acc-imp-%d", i), "email": fmt.Sprintf("imp%d@example.com", i), "role": "agent"}
		}
		return map[string]any{"members": r}
	}
	ids := make([]string, 101)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	type row = map[string]string
	reqs := []badRequest{
		{name: "create property: a name of the wrong JSON type is malformed", method: "POST", path: "/v1/properties", token: out, body: `{"name":5}`, status: 400, code: "malformed_json", detail: "name"},
		{name: "create property: a blank name is invalid", method: "POST", path: "/v1/properties", token: out, body: row{"name": "  "}, status: 422, code: "invalid_name"},
		{name: "create property: a missing name is invalid", method: "POST", path: "/v1/properties", token: out, body: `{}`, status: 422, code: "invalid_name"},
		{name: "create property: a name over 100 characters is invalid", method: "POST", path: "/v1/properties", token: out, body: row{"name": strings.Repeat("n", 101)}, status: 422, code: "invalid_name"},
		{name: "create property: a name with control characters is invalid", method: "POST", path: "/v1/properties", token: out, body: row{"name": "a\x07b"}, status: 422, code: "invalid_name"},
		{name: "create property: a creator whose token email is no address is refused", method: "POST", path: "/v1/properties", token: badEmailUser, body: row{"name": "Mine"}, status: 422, code: "invalid_email", detail: "not-an-email"},

		{name: "invite: an invalid email is refused by value", method: "POST", path: p + "/invitations", token: o, body: row{"email": "not-an-email", "role": "agent"}, status: 422, code: "invalid_email", detail: "not-an-email"},
		{name: "invite: every bad row is reported at once", method: "POST", path: p + "/invitations", token: o, body: map[string]any{"invitations": []row{{"email": "a@example.com", "role": "agent"}, {"email": "b@", "role": "agent"}, {"email": "c@example.com", "role": "boss"}}}, status: 422, code: "invalid_invitations", detail: "2 invitations"},
		{name: "invite: an unknown role is refused by value", method: "POST", path: p + "/invitations", token: o, body: row{"email": "new@example.com", "role": "owner"}, status: 422, code: "invalid_role", detail: "owner"},
		{name: "invite: a missing role is refused", method: "POST", path: p + "/invitations", token: o, body: row{"email": "new@example.com"}, status: 422, code: "invalid_role"},
		{name: "invite: 51 invitations are too many", method: "POST", path: p + "/invitations", token: o, body: rows(51), status: 422, code: "too_many_invitations", detail: "51"},
		{name: "invite: an empty list invites nobody", method: "POST", path: p + "/invitations", token: o, body: rows(0), status: 422, code: "no_invitations"},
		{name: "invite: an empty bare array invites nobody", method: "POST", path: p + "/invitations", token: o, body: `[]`, status: 422, code: "no_invitations"},
		{name: "invite: one email twice in a request is refused", method: "POST", path: p + "/invitations", token: o, body: map[string]any{"invitations": []row{{"email": "d@example.com", "role": "agent"}, {"email": "D@example.com", "role": "admin"}}}, status: 422, code: "duplicate_email"},
		{name: "invite: a member's email is a conflict", method: "POST", path: p + "/invitations", token: o, body: row{"email": f.agent.Email, "role": "admin"}, status: 409, code: "already_member", detail: f.agent.Email},
		{name: "invite: a pending invitee's email is a conflict", method: "POST", path: p + "/invitations", token: o, body: row{"email": f.invitee.Email, "role": "agent"}, status: 409, code: "already_invited", detail: f.invitee.Email},
		{name: "invite: one email and a list at once is malformed", method: "POST", path: p + "/invitations", token: o, body: `{"email":"x@example.com","role":"agent","invitations":[]}`, status: 400, code: "malformed_json"},
		{name: "invite: an email of the wrong JSON type is malformed", method: "POST", path: p + "/invitations", token: o, body: `{"email":5,"role":"agent"}`, status: 400, code: "malformed_json", detail: "email"},
		{name: "invite: invitations of the wrong JSON type are malformed", method: "POST", path: p + "/invitations", token: o, body: `{"invitations":{"email":"x@example.com"}}`, status: 400, code: "malformed_json", detail: "invitations"},
		{name: "invite: an agent is forbidden", method: "POST", path: p + "/invitations", token: ag, body: row{"email": "new@example.com", "role": "agent"}, status: 403, code: "forbidden"},
		{name: "invite: an outsider is told the property does not exist", method: "POST", path: p + "/invitations", token: out, body: row{"email": "new@example.com", "role": "agent"}, status: 404, code: "property_not_found"},
		{name: "invite: an unknown property is not found", method: "POST", path: unknownP + "/invitations", token: o, body: row{"email": "new@example.com", "role": "agent"}, status: 404, code: "property_not_found"},
		{name: "invite: a property ID that is no UUID is not found", method: "POST", path: "/v1/properties/acme/invitations", token: o, body: row{"email": "new@example.com", "role": "agent"}, status: 404, code: "property_not_found"},

		{name: "import members: every bad row is reported at once", method: "POST", path: p + "/members/import", token: o, body: map[string]any{"members": []row{{"account_id": "acc-a", "email": "a@example.com", "role": "agent"}, {"account_id": "", "email": "b@", "role": "boss"}, {"account_id": "acc-a", "email": "c@example.com", "role": "agent"}}}, status: 422, code: "invalid_import", detail: "2 rows"},
		{name: "import members: an account ID with a space is refused by value", method: "POST", path: p + "/members/import", token: o, body: map[string]any{"members": []row{{"account_id": "acc one", "email": "a@example.com", "role": "agent"}}}, status: 422, code: "invalid_account_id", detail: "acc one"},
		{name: "import members: an invalid email is refused by value", method: "POST", path: p + "/members/import", token: o, body: map[string]any{"members": []row{{"account_id": "acc-a", "email": "not-an-email", "role": "agent"}}}, status: 422, code: "invalid_email", detail: "not-an-email"},
		{name: "import members: a missing role is refused", method: "POST", path: p + "/members/import", token: o, body: map[string]any{"members": []row{{"account_id": "acc-a", "email": "a@example.com"}}}, status: 422, code: "invalid_role"},
		{name: "import members: one email twice is refused", method: "POST", path: p + "/members/import", token: o, body: map[string]any{"members": []row{{"account_id": "acc-a", "email": "d@example.com", "role": "agent"}, {"account_id": "acc-b", "email": "D@example.com", "role": "agent"}}}, status: 422, code: "duplicate_email"},
		{name: "import members: an empty list imports nobody", method: "POST", path: p + "/members/import", token: o, body: `{"members":[]}`, status: 422, code: "no_import_rows"},
		{name: "import members: a missing list imports nobody", method: "POST", path: p + "/members/import", token: o, body: `{}`, status: 422, code: "no_import_rows"},
		{name: "import members: 1001 rows are too many", method: "POST", path: p + "/members/import", token: o, body: importRows(1001), status: 422, code: "too_many_import_rows", detail: "1001"},
		{name: "import members: a member's account is a conflict", method: "POST", path: p + "/members/import", token: o, body: map[string]any{"members": []row{{"account_id": f.agent.ID, "email": "fresh@example.com", "role": "agent"}}}, status: 409, code: "already_member", detail: f.agent.ID},
		{name: "import members: a member's email is a conflict", method: "POST", path: p + "/members/import", token: o, body: map[string]any{"members": []row{{"account_id": "acc-fresh", "email": f.agent.Email, "role": "agent"}}}, status: 409, code: "already_member", detail: f.agent.Email},
		{name: "import members: a pending invitee is a conflict", method: "POST", path: p + "/members/import", token: o, body: map[string]any{"members": []row{{"account_id": f.invitee.ID, "email": f.invitee.Email, "role": "agent"}}}, status: 409, code: "already_invited", detail: f.invitee.Email},
		{name: "import members: rows of the wrong JSON type are malformed", method: "POST", path: p + "/members/import", token: o, body: `{"members":{"account_id":"a"}}`, status: 400, code: "malformed_json", detail: "members"},
		{name: "import members: an unknown field in a row is refused", method: "POST", path: p + "/members/import", token: o, body: `{"members":[{"account_id":"a","email":"a@example.com","role":"agent","name":"A"}]}`, status: 400, code: "unknown_field"},
		{name: "import members: an agent is forbidden", method: "POST", path: p + "/members/import", token: ag, body: map[string]any{"members": []row{{"account_id": "acc-a", "email": "a@example.com", "role": "agent"}}}, status: 403, code: "forbidden"},
		{name: "import members: an outsider is told the property does not exist", method: "POST", path: p + "/members/import", token: out, body: map[string]any{"members": []row{{"account_id": "acc-a", "email": "a@example.com", "role": "agent"}}}, status: 404, code: "property_not_found"},
		{name: "import members: an unknown property is not found", method: "POST", path: unknownP + "/members/import", token: o, body: map[string]any{"members": []row{{"account_id": "acc-a", "email": "a@example.com", "role": "agent"}}}, status: 404, code: "property_not_found"},

		{name: "resend: an unknown invitation is not found", method: "POST", path: p + "/invitations/" + unknownID + "/resend", token: o, status: 404, code: "invitation_not_found"},
		{name: "resend: an invitation ID that is no UUID is not found", method: "POST", path: p + "/invitations/abc/resend", token: o, status: 404, code: "invitation_not_found"},
		{name: "resend: an unknown property is not found", method: "POST", path: unknownP + "/invitations/" + f.pendingIID + "/resend", token: o, status: 404, code: "property_not_found"},
		{name: "resend: an agent is forbidden", method: "POST", path: inv + "/resend", token: ag, status: 403, code: "forbidden"},
		{name: "resend: an outsider is told the property does not exist", method: "POST", path: inv + "/resend", token: out, status: 404, code: "property_not_found"},

		{name: "revoke one: an unknown invitation is not found", method: "DELETE", path: p + "/invitations/" + unknownID, token: o, status: 404, code: "invitation_not_found"},
		{name: "revoke one: an unknown property is not found", method: "DELETE", path: unknownP + "/invitations/" + f.pendingIID, token: o, status: 404, code: "property_not_found"},
		{name: "revoke one: an agent is forbidden", method: "DELETE", path: inv, token: ag, status: 403, code: "forbidden"},
		{name: "revoke one: an outsider is told the property does not exist", method: "DELETE", path: inv, token: out, status: 404, code: "property_not_found"},

		{name: "revoke selection: no IDs revoke nothing", method: "POST", path: p + "/invitations/revoke", token: o, body: `{"ids":[]}`, status: 422, code: "no_invitations"},
		{name: "revoke selection: a missing list revokes nothing", method: "POST", path: p + "/invitations/revoke", token: o, body: `{}`, status: 422, code: "no_invitations"},
		{name: "revoke selection: IDs of the wrong JSON type are malformed", method: "POST", path: p + "/invitations/revoke", token: o, body: `{"ids":"` + f.pendingIID + `"}`, status: 400, code: "malformed_json", detail: "ids"},
		{name: "revoke selection: one unknown ID revokes none", method: "POST", path: p + "/invitations/revoke", token: o, body: map[string]any{"ids": []string{f.pendingIID, unknownID}}, status: 404, code: "invitation_not_found", detail: unknownID},
		{name: "revoke selection: 101 IDs are too many", method: "POST", path: p + "/invitations/revoke", token: o, body: map[string]any{"ids": ids}, status: 422, code: "too_many_invitations"},
		{name: "revoke selection: an agent is forbidden", method: "POST", path: p + "/invitations/revoke", token: ag, body: map[string]any{"ids": []string{f.pendingIID}}, status: 403, code: "forbidden"},
		{name: "revoke selection: an outsider is told the property does not exist", method: "POST", path: p + "/invitations/revoke", token: out, body: map[string]any{"ids": []string{f.pendingIID}}, status: 404, code: "property_not_found"},

		{name: "accept by token: a missing token is invalid", method: "POST", path: "/v1/invitations/accept", token: in, body: `{}`, status: 422, code: "invalid_request", detail: "token"},
		{name: "accept by token: a token of the wrong JSON type is malformed", method: "POST", path: "/v1/invitations/accept", token: in, body: `{"token":5}`, status: 400, code: "malformed_json", detail: "token"},
		{name: "accept by token: garbage is not a token", method: "POST", path: "/v1/invitations/accept", token: in, body: row{"token": "garbage"}, status: 404, code: "invalid_token"},
		{name: "accept by token: a forged token is refused", method: "POST", path: "/v1/invitations/accept", token: in, body: row{"token": f.pid + "." + f.pendingIID + ".forged"}, status: 404, code: "invalid_token"},
		{name: "accept by token: a token for an unknown property is refused", method: "POST", path: "/v1/invitations/accept", token: in, body: row{"token": unknownID + "." + f.pendingIID + ".mac"}, status: 404, code: "invalid_token"},
		{name: "accept by token: another account is not the invitee", method: "POST", path: "/v1/invitations/accept", token: out, body: row{"token": f.pendingToken}, status: 403, code: "not_invitee"},
		{name: "accept by token: an unverified invitee is refused", method: "POST", path: "/v1/invitations/accept", token: f.invitee.unverified(t), body: row{"token": f.pendingToken}, status: 403, code: "email_unverified"},
	}
	for _, verb := range []string{"accept", "decline"} {
		reqs = append(reqs,
			badRequest{name: verb + ": an unknown invitation is, to an outsider, an unknown property", method: "POST", path: p + "/invitations/" + unknownID + "/" + verb, token: in, status: 404, code: "property_not_found"},
			badRequest{name: verb + ": an unknown invitation is not found, for a member", method: "POST", path: p + "/invitations/" + unknownID + "/" + verb, token: ag, status: 404, code: "invitation_not_found"},
			badRequest{name: verb + ": an invitation ID that is no UUID is, to an outsider, an unknown property", method: "POST", path: p + "/invitations/x/" + verb, token: in, status: 404, code: "property_not_found"},
			badRequest{name: verb + ": an unknown property is not found", method: "POST", path: unknownP + "/invitations/" + f.pendingIID + "/" + verb, token: in, status: 404, code: "property_not_found"},
			badRequest{name: verb + ": the owner is not the invitee", method: "POST", path: inv + "/" + verb, token: o, status: 403, code: "not_invitee"},
			badRequest{name: verb + ": an outsider is not the invitee", method: "POST", path: inv + "/" + verb, token: out, status: 403, code: "not_invitee"},
			badRequest{name: verb + ": an unverified invitee is refused", method: "POST", path: inv + "/" + verb, token: f.invitee.unverified(t), status: 403, code: "email_unverified"},
		)
	}
	reqs = append(reqs, memberBadValues(f)...)
	f.refuseAll(t, reqs)
}

// memberBadValues are the refusals of the member routes: change role,
// disable, enable, remove, leave and transfer ownership.
func memberBadValues(f *fixture) []badRequest {
	o, ag, out := f.owner.Token, f.agent.Token, f.outsider.Token
	p := "/v1/properties/" + f.pid
	unknownP := "/v1/properties/" + uuid.NewString()
	agentPath, ownerPath, unknownPath := p+"/members/"+f.agent.ID, p+"/members/"+f.owner.ID, p+"/members/"+uuid.NewString()
	type row = map[string]string
	reqs := []badRequest{
		{name: "change role: an unknown role is refused by value", method: "PUT", path: agentPath + "/role", token: o, body: row{"role": "owner"}, status: 422, code: "invalid_role", detail: "owner"},
		{name: "change role: an empty role is refused", method: "PUT", path: agentPath + "/role", token: o, body: row{"role": ""}, status: 422, code: "invalid_role"},
		{name: "change role: a missing role is refused", method: "PUT", path: agentPath + "/role", token: o, body: `{}`, status: 422, code: "invalid_role"},
		{name: "change role: a role of the wrong JSON type is malformed", method: "PUT", path: agentPath + "/role", token: o, body: `{"role":["admin"]}`, status: 400, code: "malformed_json", detail: "role"},
		{name: "change role: an account ID that is no UUID is not a member", method: "PUT", path: p + "/members/nobody/role", token: o, body: row{"role": "admin"}, status: 404, code: "member_not_found"},
		{name: "change role: an agent is forbidden", method: "PUT", path: agentPath + "/role", token: ag, body: row{"role": "admin"}, status: 403, code: "forbidden"},
		{name: "change role: an outsider is told the property does not exist", method: "PUT", path: agentPath + "/role", token: out, body: row{"role": "admin"}, status: 404, code: "property_not_found"},
		{name: "change role: the last admin cannot be demoted", method: "PUT", path: ownerPath + "/role", token: o, body: row{"role": "agent"}, status: 409, code: "last_admin"},
		{name: "change role: an unknown property is not found", method: "PUT", path: unknownP + "/members/" + f.agent.ID + "/role", token: o, body: row{"role": "admin"}, status: 404, code: "property_not_found"},

		{name: "leave: an outsider is told the property does not exist", method: "POST", path: p + "/leave", token: out, status: 404, code: "property_not_found"},
		{name: "leave: the owner cannot leave", method: "POST", path: p + "/leave", token: o, status: 409, code: "owner_cannot_leave"},
		{name: "leave: an unknown property is not found", method: "POST", path: unknownP + "/leave", token: ag, status: 404, code: "property_not_found"},

		{name: "transfer ownership: an empty account is invalid", method: "POST", path: p + "/ownership", token: o, body: row{"account_id": ""}, status: 422, code: "invalid_request", detail: "account_id"},
		{name: "transfer ownership: a missing account is invalid", method: "POST", path: p + "/ownership", token: o, body: `{}`, status: 422, code: "invalid_request", detail: "account_id"},
		{name: "transfer ownership: an account of the wrong JSON type is malformed", method: "POST", path: p + "/ownership", token: o, body: `{"account_id":7}`, status: 400, code: "malformed_json", detail: "account_id"},
		{name: "transfer ownership: an unknown account is not a member", method: "POST", path: p + "/ownership", token: o, body: row{"account_id": uuid.NewString()}, status: 404, code: "member_not_found"},
		{name: "transfer ownership: an agent cannot become owner", method: "POST", path: p + "/ownership", token: o, body: row{"account_id": f.agent.ID}, status: 409, code: "new_owner_not_admin"},
		{name: "transfer ownership: the owner already owns it", method: "POST", path: p + "/ownership", token: o, body: row{"account_id": f.owner.ID}, status: 409, code: "already_owner"},
		{name: "transfer ownership: an agent is forbidden", method: "POST", path: p + "/ownership", token: ag, body: row{"account_id": f.agent.ID}, status: 403, code: "forbidden"},
		{name: "transfer ownership: an outsider is told the property does not exist", method: "POST", path: p + "/ownership", token: out, body: row{"account_id": f.agent.ID}, status: 404, code: "property_not_found"},
		{name: "transfer ownership: an unknown property is not found", method: "POST", path: unknownP + "/ownership", token: o, body: row{"account_id": f.agent.ID}, status: 404, code: "property_not_found"},
	}
	for _, rt := range []struct{ name, method, suffix string }{
		{"disable", "POST", "/disable"}, {"enable", "POST", "/enable"}, {"remove", "DELETE", ""},
	} {
		reqs = append(reqs,
			badRequest{name: rt.name + ": an unknown account is not a member", method: rt.method, path: unknownPath + rt.suffix, token: o, status: 404, code: "member_not_found"},
			badRequest{name: rt.name + ": an account ID that is no UUID is not a member", method: rt.method, path: p + "/members/nobody" + rt.suffix, token: o, status: 404, code: "member_not_found"},
			badRequest{name: rt.name + ": an unknown property is not found", method: rt.method, path: unknownP + "/members/" + f.agent.ID + rt.suffix, token: o, status: 404, code: "property_not_found"},
			badRequest{name: rt.name + ": an agent is forbidden", method: rt.method, path: agentPath + rt.suffix, token: ag, status: 403, code: "forbidden"},
			badRequest{name: rt.name + ": an outsider is told the property does not exist", method: rt.method, path: agentPath + rt.suffix, token: out, status: 404, code: "property_not_found"},
		)
	}
	return append(reqs,
		badRequest{name: "disable: the last admin cannot be disabled", method: "POST", path: ownerPath + "/disable", token: o, status: 409, code: "last_admin"},
		badRequest{name: "remove: the last admin cannot be removed", method: "DELETE", path: ownerPath, token: o, status: 409, code: "last_admin"},
	)
}
