-- +goose Up

-- Projection "audit": one row per event of a property, who did what to whom,
-- when and from where. The payload itself is not kept (an invitation's carries
-- a token nonce): only what the audit shows. Rows are never updated.
--
-- Pages are ordered by (occurred_at, revision) and continue after a key, so
-- each index below ends with those two columns: whichever filter drives the
-- query, the rows come out of the index in page order and a page reads only
-- the rows it returns.
CREATE TABLE rm_audit (
    property_id      text        NOT NULL,
    revision         bigint      NOT NULL,
    commit_position  bigint      NOT NULL,
    prepare_position bigint      NOT NULL,
    event_id         text        NOT NULL,
    event_type       text        NOT NULL,
    occurred_at      timestamptz NOT NULL,
    actor_id         text        NOT NULL,
    -- Lower-cased, so the actor filter compares emails as the domain does.
    actor_email      text        NOT NULL,
    client_ip        text        NOT NULL,
    user_agent       text        NOT NULL,
    -- member, invitation or property; subject_id is the account, invitation
    -- or property ID and subject_email the member's or invitee's email.
    subject_kind     text        NOT NULL,
    subject_id       text        NOT NULL,
    subject_email    text        NOT NULL,
    -- What changed, where one value became another (role, status, owner,
    -- expires_at, name); all three are empty otherwise.
    change_field     text        NOT NULL,
    before_value     text        NOT NULL,
    after_value      text        NOT NULL,
    correlation_id   text        NOT NULL,
    causation_id     text        NOT NULL,
    command_id       text        NOT NULL,
    PRIMARY KEY (property_id, revision)
);

CREATE INDEX rm_audit_page ON rm_audit (property_id, occurred_at, revision);
CREATE INDEX rm_audit_actor_page ON rm_audit (property_id, actor_id, occurred_at, revision);
CREATE INDEX rm_audit_actor_email_page ON rm_audit (property_id, actor_email, occurred_at, revision);
CREATE INDEX rm_audit_type_page ON rm_audit (property_id, event_type, occurred_at, revision);

-- Every key an audit row can be found by as "the member it concerns": the
-- account IDs, emails and invitation IDs of its subjects. An ownership
-- transfer concerns both accounts; an invitation's rows gain the account
-- that accepted it, so a member's history starts at the invitation.
CREATE TABLE rm_audit_subjects (
    property_id text        NOT NULL,
    subject_key text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    revision    bigint      NOT NULL,
    PRIMARY KEY (property_id, subject_key, occurred_at, revision)
);

-- The emails of members (by account ID) and invitees (by invitation ID), and
-- each invitation's expiry, as the audit projection last saw them, so a row
-- about a member names its email without reading another projection's tables.
CREATE TABLE rm_audit_contacts (
    property_id text        NOT NULL,
    subject_id  text        NOT NULL,
    email       text        NOT NULL,
    expires_at  timestamptz,
    PRIMARY KEY (property_id, subject_id)
);

-- Projection "my_properties": the properties each account belongs to, with
-- its role, status and owner flag there; a row goes when the member does.
CREATE TABLE rm_my_properties (
    account_id    text        NOT NULL,
    property_id   text        NOT NULL,
    property_name text        COLLATE "C" NOT NULL,
    role          text        NOT NULL,
    status        text        NOT NULL,
    is_owner      boolean     NOT NULL,
    joined_at     timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (account_id, property_id)
);

CREATE INDEX rm_my_properties_by_name ON rm_my_properties (account_id, property_name, property_id);

-- Each property's name and owner, kept by my_properties itself.
CREATE TABLE rm_my_properties_names (
    property_id text PRIMARY KEY,
    name        text NOT NULL,
    owner_id    text NOT NULL
);

-- Projection "access": (property, account) -> role, status, owner, for
-- permission checks. A row goes when the member does.
CREATE TABLE rm_access (
    property_id text        NOT NULL,
    account_id  text        NOT NULL,
    role        text        NOT NULL,
    status      text        NOT NULL,
    is_owner    boolean     NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (property_id, account_id)
);

-- Who owns each property, as the access projection last saw it.
CREATE TABLE rm_access_owners (
    property_id text PRIMARY KEY,
    owner_id    text NOT NULL
);

-- +goose Down
DROP TABLE rm_access_owners;
DROP TABLE rm_access;
DROP TABLE rm_my_properties_names;
DROP TABLE rm_my_properties;
DROP TABLE rm_audit_contacts;
DROP TABLE rm_audit_subjects;
DROP TABLE rm_audit;
