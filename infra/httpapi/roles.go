package httpapi

import (
	"net/http"
	"slices"

	"github.com/rosterhq/roster/commands"
	"github.com/rosterhq/roster/domain"
	"github.com/rosterhq/roster/readmodels"
)

// A property's roles (docs/ARCHITECTURE.md section 13): every member may
// list them; those who may manage members define, change and delete the
// custom ones. A role is named by its ID in paths and in members' and
// invitations' role fields; invitations and role changes take a custom
// role's name too.
func (s *server) registerRoleRoutes(r routes) {
	r.handle(http.MethodGet, "/properties/{pid}/roles", s.consistent(s.listRoles))
	r.handle(http.MethodPost, "/properties/{pid}/roles", s.createRole)
	r.handle(http.MethodPatch, "/properties/{pid}/roles/{rid}", s.editRole)
	r.handle(http.MethodDelete, "/properties/{pid}/roles/{rid}", s.deleteRole)
}

// roleList is GET .../roles: the built-in roles, then the custom ones by name.
type roleList struct {
	Roles []readmodels.Role `json:"roles"`
	// Permissions are every permission a custom role may hold, in table
	// order, so a form offers only what will be accepted.
	Permissions []domain.Permission `json:"permissions"`
}

func (s *server) listRoles(w http.ResponseWriter, r *http.Request) {
	pid := vars(r)["pid"]
	if err := s.canRead(r, pid); err != nil {
		writeError(w, r, err)
		return
	}
	roles, err := s.reads.Roles(r.Context(), pid)
	if err != nil {
		writeError(w, r, err)
		return
	}
	grantable := slices.DeleteFunc(domain.AllPermissions(), func(p domain.Permission) bool { return p == domain.PermTransferOwnership })
	writeJSON(w, http.StatusOK, roleList{Roles: roles, Permissions: grantable})
}

// roleBody is POST .../roles and PATCH .../roles/{rid}; on PATCH a field
// left out (or null) is left as it is.
type roleBody struct {
	Name        *string   `json:"name"`
	Permissions *[]string `json:"permissions"`
}

// roleCreated is the answer of POST .../roles.
type roleCreated struct {
	commandResponse
	ID domain.Role `json:"id"`
}

func (s *server) createRole(w http.ResponseWriter, r *http.Request) {
	var body roleBody
	m, err := readCommand(w, r, &body)
	if err != nil {
		writeError(w, r, err)
		return
	}
	c := commands.CreateRole{PropertyID: vars(r)["pid"]}
	if body.Name != nil {
		c.Name = *body.Name
	}
	if body.Permissions != nil {
		c.Permissions = *body.Permissions
	}
	res, err := s.cmd.CreateRole.Handle(r.Context(), m, c)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeResult(w, http.StatusCreated, res.Result, roleCreated{commandResponse: newCommandResponse(res.Result), ID: res.RoleID})
}

func (s *server) editRole(w http.ResponseWriter, r *http.Request) {
	var body roleBody
	m, err := readCommand(w, r, &body)
	if err != nil {
		writeError(w, r, err)
		return
	}
	res, err := s.cmd.EditRole.Handle(r.Context(), m, commands.EditRole{PropertyID: vars(r)["pid"], RoleID: vars(r)["rid"],
		Name: body.Name, Permissions: body.Permissions})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeResult(w, http.StatusOK, res, newCommandResponse(res))
}

func (s *server) deleteRole(w http.ResponseWriter, r *http.Request) {
	m, err := readCommand(w, r, nil)
	if err != nil {
		writeError(w, r, err)
		return
	}
	res, err := s.cmd.DeleteRole.Handle(r.Context(), m, commands.DeleteRole{PropertyID: vars(r)["pid"], RoleID: vars(r)["rid"]})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeResult(w, http.StatusOK, res, newCommandResponse(res))
}
