-- +goose Up

-- The account that sent an invitation notification's invitation: the
-- inviter's email in its details is sealed under that account when the
-- token's claim was no address, and forgetting the account finds it here,
-- in the notification's own row, not through another projection's table.
ALTER TABLE rm_notifications ADD COLUMN invited_by text;

UPDATE rm_notifications n SET invited_by = i.invited_by
FROM rm_invitations i
WHERE n.kind = 'invitation_received' AND i.property_id = n.property_id
    AND i.invitation_id = n.details->>'invitation_id';

-- +goose Down
ALTER TABLE rm_notifications DROP COLUMN invited_by;
