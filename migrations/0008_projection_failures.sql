-- +goose Up

-- Where a projection stopped: the event it could not apply after its
-- retries (the event's own fault: a value PostgreSQL cannot hold, a
-- constraint it breaks, a payload that does not decode) and why. A
-- projection has at most one open failure, the event it waits at; every
-- instance and `roster projections status` read it here. A failure is
-- resolved (never deleted, so the history stays) when an operator skips
-- the event or asks for a retry, when the projection gets past it (a fixed
-- release, a rebuild), or when it fails on another event.
CREATE TABLE projection_failures (
    id               bigserial   PRIMARY KEY,
    projection       text        NOT NULL,
    event_id         text        NOT NULL,
    stream_id        text        NOT NULL,
    event_type       text        NOT NULL,
    commit_position  bigint      NOT NULL,
    prepare_position bigint      NOT NULL,
    error            text        NOT NULL,
    attempts         integer     NOT NULL CHECK (attempts > 0),
    first_failed_at  timestamptz NOT NULL DEFAULT now(),
    last_failed_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at      timestamptz,
    resolution       text CHECK (resolution IN ('skipped', 'retried', 'applied', 'passed')),
    CONSTRAINT projection_failures_resolved_check CHECK ((resolved_at IS NULL) = (resolution IS NULL))
);

CREATE UNIQUE INDEX projection_failures_open_key ON projection_failures (projection) WHERE resolved_at IS NULL;

-- Events an operator told one projection to pass over, for good: the live
-- runner and every rebuild of that projection apply everything but these.
-- The event's stream, type and position are copied for the reader.
CREATE TABLE projection_skips (
    projection       text        NOT NULL,
    event_id         text        NOT NULL,
    stream_id        text        NOT NULL,
    event_type       text        NOT NULL,
    commit_position  bigint      NOT NULL,
    prepare_position bigint      NOT NULL,
    reason           text        NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 500),
    operator         text        NOT NULL CHECK (char_length(operator) BETWEEN 1 AND 100),
    skipped_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, event_id)
);

-- The audit trail of operations: one row per action an operator took on
-- the running service (skipping an event for a projection, retrying a
-- stopped one, and what later commands add), written in the transaction
-- that takes the action. action is "<area>.<verb>", target what it acted
-- on, detail the rest.
CREATE TABLE ops_audit (
    id       bigserial   PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    operator text        NOT NULL CHECK (char_length(operator) BETWEEN 1 AND 100),
    action   text        NOT NULL,
    target   text        NOT NULL,
    detail   jsonb       NOT NULL DEFAULT '{}'
);

CREATE INDEX ops_audit_at_idx ON ops_audit (at);

-- +goose Down
DROP TABLE ops_audit;
DROP TABLE projection_skips;
DROP TABLE projection_failures;
