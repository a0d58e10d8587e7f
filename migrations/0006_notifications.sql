-- +goose Up

-- In-app notifications (projection notifications): one row per event that
-- tells someone about a change to their own access. An invitation is
-- addressed to an email (the invitee may have no account yet); everything
-- else to an account. id is derived from the event ID and the recipient, so
-- a rebuild gives every notification the ID it had before and the read
-- markers below keep pointing at it.
CREATE TABLE rm_notifications (
    id            uuid        PRIMARY KEY,
    account_id    text,
    email         text,
    property_id   text        NOT NULL,
    property_name text        NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('invitation_received', 'role_changed',
                      'access_disabled', 'access_enabled', 'removed_from_property')),
    details       jsonb       NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL,
    CHECK (account_id IS NOT NULL OR email IS NOT NULL)
);

-- The bell reads a recipient's newest first, by account or by email.
CREATE INDEX rm_notifications_account ON rm_notifications (account_id, created_at DESC, id DESC)
    WHERE account_id IS NOT NULL;
CREATE INDEX rm_notifications_email ON rm_notifications (email, created_at DESC, id DESC)
    WHERE email IS NOT NULL;

-- The property names the notifications show, kept by that projection itself.
CREATE TABLE rm_notifications_properties (
    property_id text PRIMARY KEY,
    name        text NOT NULL
);

-- Which notifications an account has read. This is the user's own state,
-- not derived from events: it belongs to no projection, so a rebuild of
-- rm_notifications leaves it alone (hence no foreign key either).
CREATE TABLE notification_reads (
    account_id      text        NOT NULL,
    notification_id uuid        NOT NULL,
    read_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, notification_id)
);

-- What the mail consumer (infra/mail) remembers of the feed to write an
-- invitation mail: property names, and each invitation's invitee and role,
-- which InvitationResent does not repeat. Written by that consumer only.
CREATE TABLE mail_properties (
    property_id text PRIMARY KEY,
    name        text NOT NULL
);

CREATE TABLE mail_invitations (
    property_id   text NOT NULL,
    invitation_id text NOT NULL,
    email         text NOT NULL,
    role          text NOT NULL,
    PRIMARY KEY (property_id, invitation_id)
);

-- +goose Down
DROP TABLE mail_invitations;
DROP TABLE mail_properties;
DROP TABLE notification_reads;
DROP TABLE rm_notifications_properties;
DROP TABLE rm_notifications;
