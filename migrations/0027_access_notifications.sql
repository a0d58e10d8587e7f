-- +goose Up

-- A member is told when their access is about to end (7 days and 1 day
-- before: MemberAccessEndingSoon) and when it ended (MemberAccessExpired).
ALTER TABLE rm_notifications
    DROP CONSTRAINT rm_notifications_kind_check,
    ADD CONSTRAINT rm_notifications_kind_check CHECK (kind IN ('invitation_received', 'role_changed',
        'access_disabled', 'access_enabled', 'removed_from_property', 'webhook_disabled',
        'access_ending', 'access_expired'));

-- +goose Down
DELETE FROM rm_notifications WHERE kind IN ('access_ending', 'access_expired');
ALTER TABLE rm_notifications
    DROP CONSTRAINT rm_notifications_kind_check,
    ADD CONSTRAINT rm_notifications_kind_check CHECK (kind IN ('invitation_received', 'role_changed',
        'access_disabled', 'access_enabled', 'removed_from_property', 'webhook_disabled'));
