-- +goose Up

-- The admins of a property are notified when Roster disables a webhook
-- endpoint whose deliveries failed for the whole retry horizon.
ALTER TABLE rm_notifications
    DROP CONSTRAINT rm_notifications_kind_check,
    ADD CONSTRAINT rm_notifications_kind_check CHECK (kind IN ('invitation_received', 'role_changed',
        'access_disabled', 'access_enabled', 'removed_from_property', 'webhook_disabled'));

-- +goose Down
DELETE FROM rm_notifications WHERE kind = 'webhook_disabled';
ALTER TABLE rm_notifications
    DROP CONSTRAINT rm_notifications_kind_check,
    ADD CONSTRAINT rm_notifications_kind_check CHECK (kind IN ('invitation_received', 'role_changed',
        'access_disabled', 'access_enabled', 'removed_from_property'));
