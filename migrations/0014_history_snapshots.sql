-- +goose Up

-- Snapshots of a property's past (readmodels.History, section 8 of
-- docs/ARCHITECTURE.md): the state its fold reaches after `revision` events,
-- so that an as-of answer or an access review starts from the newest
-- snapshot it may use and folds the few events after it, not the whole
-- stream. They are a cache of the event store, written by the fold itself:
-- deleting any or all of them loses nothing.
--
-- A snapshot may answer a moment when every event it folded happened at or
-- before that moment: max_at_ns is the latest of their times, in Unix
-- nanoseconds because timestamptz keeps microseconds only and a rounded
-- bound could admit an event from after the moment. last_event_id is the ID
-- of the event at revision - 1, checked against the stream before the
-- snapshot is used, so a snapshot of another history of the same property
-- (an in-memory event store restarted) is never taken for this one. format
-- is the version of the state's encoding and of the fold that wrote it;
-- state is that encoding, JSON, kept as bytea since the server never reads
-- into it and parsing it into jsonb would cost every write and read.
--
-- emails and accounts list every email (trimmed, lower-cased) and account
-- ID the state holds, so that forgetting a person (infra/privacy) deletes
-- exactly the snapshots that hold their data in plain.
CREATE TABLE history_snapshots (
    property_id   text        NOT NULL,
    revision      bigint      NOT NULL CHECK (revision > 0),
    format        integer     NOT NULL,
    last_event_id text        NOT NULL,
    max_at_ns     bigint      NOT NULL,
    state         bytea       NOT NULL,
    emails        text[]      NOT NULL,
    accounts      text[]      NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (property_id, format, revision)
);

-- The lookup: the newest snapshot of a property folded by a moment.
CREATE INDEX history_snapshots_moment ON history_snapshots (property_id, format, max_at_ns, revision);
-- Forgetting finds the snapshots of a person.
CREATE INDEX history_snapshots_emails ON history_snapshots USING gin (emails);
CREATE INDEX history_snapshots_accounts ON history_snapshots USING gin (accounts);

-- One row counting the forgets that deleted snapshots. A fold reads it
-- before opening any event and writes its snapshots only if it has not
-- moved, holding the row FOR SHARE, which a forget's UPDATE waits for: so a
-- fold that opened a person's data before their key was destroyed cannot
-- store it after the forget has deleted the person's snapshots.
CREATE TABLE history_snapshot_epoch (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    epoch    bigint  NOT NULL
);
INSERT INTO history_snapshot_epoch (epoch) VALUES (0);

-- +goose Down
DROP TABLE history_snapshot_epoch;
DROP TABLE history_snapshots;
