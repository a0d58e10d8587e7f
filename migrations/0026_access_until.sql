-- +goose Up

-- When a membership's access ends (MemberAccessUntilChanged, or inherited
-- from its invitation); NULL when it does not. Section 12 of
-- docs/ARCHITECTURE.md.
ALTER TABLE rm_members ADD COLUMN access_until timestamptz;
-- The nearest reminder of that end the member was given
-- (MemberAccessEndingSoon), in seconds before it; 0 for none yet.
ALTER TABLE rm_members ADD COLUMN access_reminded_s bigint NOT NULL DEFAULT 0;
ALTER TABLE rm_access ADD COLUMN access_until timestamptz;
ALTER TABLE rm_invitations ADD COLUMN access_until timestamptz;

-- The scheduler's question, "whose enabled access ends by now?", is a
-- range scan of this index over the due rows only: memberships whose access
-- does not end are not in it at all.
CREATE INDEX rm_members_access_until_due ON rm_members (access_until, property_id, account_id)
    WHERE access_until IS NOT NULL AND status = 'enabled';

-- +goose Down
DROP INDEX rm_members_access_until_due;
ALTER TABLE rm_invitations DROP COLUMN access_until;
ALTER TABLE rm_access DROP COLUMN access_until;
ALTER TABLE rm_members DROP COLUMN access_reminded_s;
ALTER TABLE rm_members DROP COLUMN access_until;
