-- +goose Up

-- A property's invitation policy (InvitationPolicyChanged), in seconds;
-- 0 while the property has set none and the service's default applies (a
-- policy's lifetimes are at least an hour).
ALTER TABLE rm_properties
    ADD COLUMN invite_default_lifetime_s bigint NOT NULL DEFAULT 0,
    ADD COLUMN invite_maximum_lifetime_s bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE rm_properties
    DROP COLUMN invite_default_lifetime_s,
    DROP COLUMN invite_maximum_lifetime_s;
