package commands

import (
	"context"
	"time"

	"github.com/rosterhq/roster/domain"
)

// The commands on a property's custom roles (docs/ARCHITECTURE.md section
// 13) share this file: each is one decision of domain/decide_roles.go.

// CreateRole defines a custom role of a property.
type CreateRole struct {
	PropertyID  string
	Name        string
	Permissions []string
}

// CreateRoleResult is the answer of CreateRole: the new role's ID beside
// the usual result. A repeat with the same idempotency key gives the same ID.
type CreateRoleResult struct {
	Result
	RoleID domain.Role
}

// CreateRoleHandler handles CreateRole.
type CreateRoleHandler struct {
	exec *Executor
}

// Handle decides the new role with a fresh ID (domain.Property.CreateRole
// names its errors).
func (h CreateRoleHandler) Handle(ctx context.Context, m Meta, c CreateRole) (CreateRoleResult, error) {
	res, err := h.exec.Run(ctx, m, c.PropertyID, func(p *domain.Property, _ time.Time, ids IDs) ([]domain.Event, error) {
		return p.CreateRole(m.Actor, domain.CustomRoleID(ids.Next("role")), c.Name, c.Permissions)
	})
	if err != nil {
		return CreateRoleResult{}, err
	}
	out := CreateRoleResult{Result: res}
	for _, e := range res.Events {
		if ev, ok := e.(domain.RoleCreated); ok {
			out.RoleID = ev.RoleID
		}
	}
	return out, nil
}

// EditRole renames a custom role and/or replaces its permissions; a nil
// field is left as it is.
type EditRole struct {
	PropertyID  string
	RoleID      string
	Name        *string
	Permissions *[]string
}

// EditRoleHandler handles EditRole.
type EditRoleHandler struct {
	exec *Executor
}

// Handle decides the change (domain.Property.EditRole names its errors).
func (h EditRoleHandler) Handle(ctx context.Context, m Meta, c EditRole) (Result, error) {
	return h.exec.Run(ctx, m, c.PropertyID, func(p *domain.Property, _ time.Time, _ IDs) ([]domain.Event, error) {
		return p.EditRole(m.Actor, c.RoleID, c.Name, c.Permissions)
	})
}

// DeleteRole removes a custom role nobody holds.
type DeleteRole struct {
	PropertyID string
	RoleID     string
}

// DeleteRoleHandler handles DeleteRole.
type DeleteRoleHandler struct {
	exec *Executor
}

// Handle decides the deletion (domain.Property.DeleteRole names its errors).
func (h DeleteRoleHandler) Handle(ctx context.Context, m Meta, c DeleteRole) (Result, error) {
	return h.exec.Run(ctx, m, c.PropertyID, func(p *domain.Property, _ time.Time, _ IDs) ([]domain.Event, error) {
		return p.DeleteRole(m.Actor, c.RoleID)
	})
}
