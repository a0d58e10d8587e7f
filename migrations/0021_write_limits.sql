-- +goose Up

-- The limits on writes that must hold across instances (docs/ARCHITECTURE.md
-- section 10): one fixed-window counter per limit, key and window, taken and
-- checked in one statement, so any number of instances share one count.
-- name is the limit (invitations_per_actor, invitations_per_property,
-- new_emails_per_property), key what it counts for (an account, a
-- property), window_start the start of the hour or UTC day counted.
CREATE TABLE limit_counters (
    name         text        NOT NULL,
    key          text        NOT NULL,
    window_start timestamptz NOT NULL,
    count        integer     NOT NULL CHECK (count >= 0),
    PRIMARY KEY (name, key, window_start)
);

CREATE INDEX limit_counters_window_idx ON limit_counters (window_start);

-- The emails a property invited on a UTC day, as hashes under the property,
-- so that inviting one address again that day does not count it twice as a
-- new email. Rows older than a day are pruned.
CREATE TABLE limit_new_emails (
    property_id text  NOT NULL,
    day         date  NOT NULL,
    email_hash  bytea NOT NULL,
    PRIMARY KEY (property_id, day, email_hash)
);

CREATE INDEX limit_new_emails_day_idx ON limit_new_emails (day);

-- The commands with an Idempotency-Key whose invitations were counted, so
-- that a retry of one (its answer lost) is not counted, or refused, again:
-- the executor answers it from the stream. Rows older than a day are pruned.
CREATE TABLE limit_reservations (
    command_id  text        PRIMARY KEY,
    reserved_at timestamptz NOT NULL
);

CREATE INDEX limit_reservations_at_idx ON limit_reservations (reserved_at);

-- A property's limits raised by an operator (roster limits set); NULL keeps
-- the configured default. Each change is also a row of ops_audit.
CREATE TABLE limit_overrides (
    property_id         text        PRIMARY KEY,
    invitations_per_day integer     CHECK (invitations_per_day > 0),
    new_emails_per_day  integer     CHECK (new_emails_per_day > 0),
    set_by              text        NOT NULL,
    set_at              timestamptz NOT NULL DEFAULT now(),
    reason              text        NOT NULL
);

-- +goose Down
DROP TABLE limit_overrides;
DROP TABLE limit_reservations;
DROP TABLE limit_new_emails;
DROP TABLE limit_counters;
