package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// roleList is GET .../roles.
type roleList struct {
	Roles []struct {
		ID          string   `json:"id"`
		Name        string   `json:"name"`
		Builtin     bool     `json:"builtin"`
		Permissions []string `json:"permissions"`
	} `json:"roles"`
	Permissions []string `json:"permissions"`
}

// TestCustomRolesOverHTTP: an owner defines a role, invites with it by
// name, and the invitee holds its permissions in the check API, in
// GET .../permissions and in the roles list; a permission change reaches
// the check at its position; the role cannot go while it is held.
func TestCustomRolesOverHTTP(t *testing.T) {
	t.Parallel()
	app := startApp(t, "ROSTER_CHECK_SERVICES", "chat-router")
	owner, lead := app.user(t, "owner"), app.user(t, "lead")
	o := owner.Token
	pid := app.createProperty(t, owner, "Acme").PropertyID
	p := "/v1/properties/" + pid
	var created struct {
		ID       string `json:"id"`
		Position string `json:"position"`
	}
	app.do(t, http.MethodPost, p+"/roles", o, map[string]any{"name": "Lead", "permissions": []string{"respond_to_chats", "manage_invitations", "view_members"}}, nil).
		want(t, http.StatusCreated).into(t, &created)
	if !strings.HasPrefix(created.ID, "role-") {
		t.Fatalf("new role id %q", created.ID)
	}
	inv := app.invite(t, owner, pid, map[string]string{"email": lead.Email, "role": "lead"})
	joined := app.accept(t, lead, pid, inv.Invitations[0].ID).Position

	var roles roleList
	app.read(t, p+"/roles", lead.Token, joined).want(t, http.StatusOK).into(t, &roles)
	if len(roles.Roles) != 3 || !roles.Roles[0].Builtin || roles.Roles[2].ID != created.ID || roles.Roles[2].Name != "Lead" ||
		slices.Contains(roles.Permissions, "transfer_ownership") {
		t.Errorf("roles as a lead sees them: %+v", roles)
	}
	var access struct {
		Role        string   `json:"role"`
		Permissions []string `json:"permissions"`
	}
	app.read(t, p+"/members/"+lead.ID+"/permissions", o, joined).want(t, http.StatusOK).into(t, &access)
	if access.Role != created.ID || !slices.Equal(access.Permissions, []string{"respond_to_chats", "view_members", "manage_invitations"}) {
		t.Errorf("a lead's permissions: %+v", access)
	}
	svc := mintServiceToken(t, "chat-router", "")
	if got := app.check(t, svc, pid, lead.ID, "respond_to_chats", joined); !got.Allowed || got.Role != created.ID {
		t.Errorf("check respond_to_chats of a lead: %+v", got)
	}
	changed := app.command(t, http.MethodPatch, p+"/roles/"+created.ID, o,
		map[string]any{"name": "Team lead", "permissions": []string{"respond_to_tickets"}}, nil, http.StatusOK)
	if got := app.check(t, svc, pid, lead.ID, "respond_to_chats", changed.Position); got.Allowed {
		t.Errorf("after the change a lead still responds to chats: %+v", got)
	}
	if got := app.check(t, svc, pid, lead.ID, "respond_to_tickets", changed.Position); !got.Allowed {
		t.Errorf("after the change a lead may not respond to tickets: %+v", got)
	}
	r := app.do(t, http.MethodDelete, p+"/roles/"+created.ID, o, nil, nil)
	r.wantProblem(t, http.StatusConflict, "role_in_use")
	if !strings.Contains(r.str("detail"), lead.ID) {
		t.Errorf("refused deletion %q does not name the holder %s", r.str("detail"), lead.ID)
	}
	app.command(t, http.MethodPut, p+"/members/"+lead.ID+"/role", o, map[string]string{"role": "agent"}, nil, http.StatusOK)
	gone := app.command(t, http.MethodDelete, p+"/roles/"+created.ID, o, nil, nil, http.StatusOK)
	app.read(t, p+"/roles", o, gone.Position).want(t, http.StatusOK).into(t, &roles)
	if len(roles.Roles) != 2 {
		t.Errorf("after deletion the roles are %+v", roles.Roles)
	}
}

// TestCustomRolesBadInputWritesNothing: every refusal of the roles' routes
// names its code, and nothing is stored.
func TestCustomRolesBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	o, ag, out := f.owner.Token, f.agent.Token, f.outsider.Token
	roles := "/v1/properties/" + f.pid + "/roles"
	var created struct {
		ID       string `json:"id"`
		Position string `json:"position"`
	}
	f.app.do(t, http.MethodPost, roles, o, map[string]any{"name": "Lead", "permissions": []string{"respond_to_chats"}}, nil).
		want(t, http.StatusCreated).into(t, &created)
	f.at = created.Position
	lead := roles + "/" + created.ID
	type body = map[string]any
	f.refuseAll(t, []badRequest{
		{name: "an unknown permission is named", method: "POST", path: roles, token: o,
			body: body{"name": "Coach", "permissions": []string{"respond_to_chats", "fly_planes"}}, status: 422, code: "invalid_permission", detail: "fly_planes"},
		{name: "transfer_ownership is the owner's", method: "POST", path: roles, token: o,
			body: body{"name": "Heir", "permissions": []string{"transfer_ownership"}}, status: 422, code: "invalid_permission", detail: "owner"},
		{name: "no permissions", method: "POST", path: roles, token: o,
			body: body{"name": "Nobody", "permissions": []string{}}, status: 422, code: "no_permissions"},
		{name: "no name", method: "POST", path: roles, token: o,
			body: body{"permissions": []string{"respond_to_chats"}}, status: 422, code: "invalid_role_name"},
		{name: "a built-in's name", method: "POST", path: roles, token: o,
			body: body{"name": "Agent", "permissions": []string{"respond_to_chats"}}, status: 422, code: "invalid_role_name", detail: "Agent"},
		{name: "a duplicate name in another case", method: "POST", path: roles, token: o,
			body: body{"name": "LEAD", "permissions": []string{"respond_to_chats"}}, status: 409, code: "role_name_taken", detail: "Lead"},
		{name: "an unknown field", method: "POST", path: roles, token: o,
			body: body{"name": "Coach", "permissions": []string{"respond_to_chats"}, "colour": "red"}, status: 400, code: "unknown_field", detail: "colour"},
		{name: "permissions as a string", method: "POST", path: roles, token: o,
			body: `{"name":"Coach","permissions":"respond_to_chats"}`, status: 400, code: "malformed_json", detail: "permissions"},
		{name: "an agent may not define roles", method: "POST", path: roles, token: ag,
			body: body{"name": "Coach", "permissions": []string{"respond_to_chats"}}, status: 403, code: "forbidden", detail: "manage_members"},
		{name: "an outsider is told the property does not exist", method: "POST", path: roles, token: out,
			body: body{"name": "Coach", "permissions": []string{"respond_to_chats"}}, status: 404, code: "property_not_found"},
		{name: "an outsider may not list roles", method: "GET", path: roles, token: out, status: 404, code: "property_not_found"},
		{name: "roles of an unknown property", method: "POST", path: "/v1/properties/" + uuid.NewString() + "/roles", token: o,
			body: body{"name": "Coach", "permissions": []string{"respond_to_chats"}}, status: 404, code: "property_not_found"},
		{name: "admin cannot be renamed", method: "PATCH", path: roles + "/admin", token: o,
			body: body{"name": "Boss"}, status: 409, code: "builtin_role"},
		{name: "agent cannot be deleted", method: "DELETE", path: roles + "/agent", token: o, status: 409, code: "builtin_role"},
		{name: "an unknown role", method: "PATCH", path: roles + "/role-nope", token: o,
			body: body{"name": "Boss"}, status: 404, code: "role_not_found", detail: "role-nope"},
		{name: "a change of nothing", method: "PATCH", path: lead, token: o, body: body{}, status: 422, code: "invalid_request"},
		{name: "a change to an unknown permission", method: "PATCH", path: lead, token: o,
			body: body{"permissions": []string{"teleport"}}, status: 422, code: "invalid_permission", detail: "teleport"},
		{name: "delete a role with a body", method: "DELETE", path: lead, token: o, body: body{"force": true}, status: 400, code: "unknown_field"},
		{name: "invite with a role the property lacks", method: "POST", path: "/v1/properties/" + f.pid + "/invitations", token: o,
			body: body{"email": "new@example.com", "role": "Coach"}, status: 422, code: "invalid_role", detail: "Coach"},
		{name: "change a role to one the property lacks", method: "PUT", path: "/v1/properties/" + f.pid + "/members/" + f.agent.ID + "/role", token: o,
			body: body{"role": "role-nope"}, status: 422, code: "invalid_role", detail: "role-nope"},
	})
}
