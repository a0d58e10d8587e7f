-- +goose Up

-- Where each projection has got to in the global feed. A projection writes its
-- row in the same transaction as its read-model rows, so the two never disagree.
CREATE TABLE projection_checkpoints (
    name             text        PRIMARY KEY,
    commit_position  bigint      NOT NULL DEFAULT 0,
    prepare_position bigint      NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Projection "properties": one row per property with its counts. The two
-- helper tables hold the sets behind the counts, so a count moves only when
-- the set really changes.
CREATE TABLE rm_properties (
    property_id              text        PRIMARY KEY,
    name                     text        NOT NULL,
    owner_id                 text        NOT NULL,
    revision                 bigint      NOT NULL,
    member_count             integer     NOT NULL DEFAULT 0,
    pending_invitation_count integer     NOT NULL DEFAULT 0,
    created_at               timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL
);

CREATE TABLE rm_properties_members (
    property_id text NOT NULL,
    account_id  text NOT NULL,
    PRIMARY KEY (property_id, account_id)
);

CREATE TABLE rm_properties_pending (
    property_id   text NOT NULL,
    invitation_id text NOT NULL,
    PRIMARY KEY (property_id, invitation_id)
);

-- Projection "members": the members of each property. Email and account ID
-- sort bytewise (COLLATE "C") so keyset pages are stable whatever the
-- server's locale.
CREATE TABLE rm_members (
    property_id text        NOT NULL,
    account_id  text        COLLATE "C" NOT NULL,
    email       text        COLLATE "C" NOT NULL,
    role        text        NOT NULL,
    status      text        NOT NULL,
    is_owner    boolean     NOT NULL DEFAULT false,
    joined_at   timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (property_id, account_id)
);

CREATE INDEX rm_members_page ON rm_members (property_id, email, account_id);
CREATE INDEX rm_members_role_page ON rm_members (property_id, role, email, account_id);
CREATE INDEX rm_members_status_page ON rm_members (property_id, status, email, account_id);

-- Who owns each property, as the members projection last saw it, so a member
-- who joins after PropertyCreated is marked owner without asking another table.
CREATE TABLE rm_members_owners (
    property_id text PRIMARY KEY,
    owner_id    text NOT NULL
);

-- Projection "invitations": every invitation of each property. Expired is not
-- stored: it is derived from expires_at when read. No token nonce, ever.
CREATE TABLE rm_invitations (
    property_id   text        NOT NULL,
    invitation_id text        NOT NULL,
    email         text        NOT NULL,
    role          text        NOT NULL,
    status        text        NOT NULL,
    invited_by    text        NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (property_id, invitation_id)
);

CREATE INDEX rm_invitations_by_status ON rm_invitations (property_id, status, created_at DESC);

-- Projection "my_invitations": pending invitations by invitee email, the
-- dashboard's bell. A row is deleted once its invitation stops being pending.
CREATE TABLE rm_my_invitations (
    email            text        NOT NULL,
    property_id      text        NOT NULL,
    invitation_id    text        NOT NULL,
    property_name    text        NOT NULL,
    role             text        NOT NULL,
    invited_by       text        NOT NULL,
    invited_by_email text        NOT NULL,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    PRIMARY KEY (property_id, invitation_id)
);

CREATE INDEX rm_my_invitations_email ON rm_my_invitations (email, created_at DESC);

-- The property names my_invitations shows, kept by that projection itself.
CREATE TABLE rm_my_invitations_properties (
    property_id text PRIMARY KEY,
    name        text NOT NULL
);

-- +goose Down
DROP TABLE rm_my_invitations_properties;
DROP TABLE rm_my_invitations;
DROP TABLE rm_invitations;
DROP TABLE rm_members_owners;
DROP TABLE rm_members;
DROP TABLE rm_properties_pending;
DROP TABLE rm_properties_members;
DROP TABLE rm_properties;
DROP TABLE projection_checkpoints;
