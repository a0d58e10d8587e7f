-- +goose Up

-- Leadership of the feed's consumers over many instances (docs/ARCHITECTURE.md
-- section 9). Every running instance keeps a row here through a connection of
-- its own: backend_pid and backend_start name that PostgreSQL session, so the
-- others see at once when it is gone (the process died, or its session was
-- terminated) and need not wait for its leases to run out.
CREATE TABLE consumer_instances (
    id            text        PRIMARY KEY,
    backend_pid   integer     NOT NULL,
    backend_start timestamptz NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now()
);

-- One lease per consumer. holder is the instance leading it ('' when none
-- does); epoch counts the acquisitions and never goes back, so a write under
-- an old epoch is refused for good. A consumer's writes commit only while
-- holder, epoch and expires_at say it still leads (the fence).
CREATE TABLE consumer_leases (
    consumer    text        PRIMARY KEY,
    holder      text        NOT NULL DEFAULT '',
    epoch       bigint      NOT NULL DEFAULT 0,
    acquired_at timestamptz NOT NULL DEFAULT now(),
    renewed_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL DEFAULT now()
);

-- Every leadership, as it began and ended, for operators and for the
-- fail-over tests that check no consumer was ever led by two instances at
-- once. ended_at is set by the release, or by the takeover that ended it.
CREATE TABLE consumer_leadership (
    consumer    text        NOT NULL,
    epoch       bigint      NOT NULL,
    holder      text        NOT NULL,
    acquired_at timestamptz NOT NULL,
    ended_at    timestamptz,
    ended_by    text,
    PRIMARY KEY (consumer, epoch)
);

-- +goose Down
DROP TABLE consumer_leadership;
DROP TABLE consumer_leases;
DROP TABLE consumer_instances;
