-- +goose Up
-- The event store (infra/eventstore/postgres). One row per event.
--
-- The global feed is ordered by (transaction_id, seq), not by seq alone: seq
-- is taken when a row is inserted, but transactions commit in another order,
-- so a reader that followed seq could pass a gap that a slower transaction
-- fills later and never see that event. Readers only return rows whose
-- transaction_id is below the oldest transaction still running
-- (pg_snapshot_xmin), and every transaction that commits later has a larger
-- id, so nothing can appear behind a reader's position.
CREATE TABLE events (
    seq            bigserial   PRIMARY KEY,
    transaction_id xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id       uuid        NOT NULL,
    stream_id      text        NOT NULL,
    revision       bigint      NOT NULL CHECK (revision >= 0),
    type           text        NOT NULL,
    -- json, not jsonb: the bytes come back exactly as written (whitespace,
    -- key order, duplicate keys), which hashing the history depends on.
    data           json        NOT NULL,
    metadata       json,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    -- Named because the store tells them apart when a concurrent append
    -- breaks one: a taken revision is a conflict, a taken ID a duplicate.
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_revision_key UNIQUE (stream_id, revision)
);

-- The global feed's order; ReadAll seeks on it with a row comparison.
CREATE INDEX events_feed_idx ON events (transaction_id, seq);

-- +goose Down
DROP TABLE events;
