-- +goose Up

-- Projection "access" keeps each property's custom roles beside the
-- memberships that name them, at one checkpoint, so a role's permissions
-- are read at the same position as who holds it. permissions is a
-- comma-separated list in the permission table's order. Built-in roles
-- (admin, agent) have no row: their permissions are the domain's table.
CREATE TABLE rm_roles (
    property_id text        NOT NULL,
    role_id     text        NOT NULL,
    name        text        NOT NULL,
    permissions text        NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (property_id, role_id)
);

-- +goose Down
DROP TABLE rm_roles;
