-- +goose Up

-- One append to the event store (infra/eventstore/postgres) in one call, so
-- a command's write costs one round trip and one implicit transaction:
--
-- 1. Appends to one stream take turns on a transaction-level advisory lock
--    keyed by the stream, so the revision read next is the stream's last
--    committed one and no concurrent append can take it meanwhile. Only a
--    writer that bypasses the turn can still take a revision or an ID while
--    the insert waits on it; the call then looks again (step 2), in SQL.
-- 2. When every event ID is stored already, in this stream at consecutive
--    revisions in this order, the call is a repeat of an append whose answer
--    was lost, and answers what that append did. Some IDs stored, or stored
--    elsewhere, is a duplicate.
-- 3. A stream not at the expected revision is a conflict, answered with the
--    revision it is at. p_expected is -2 for any revision, -1 for no stream
--    yet, else the exact last revision expected.
-- 4. Otherwise the events are inserted after the last revision, and the
--    feed's subscribers are signalled (delivered at commit only).
--
-- outcome is one of appended, repeat, conflict, duplicate; last_revision,
-- tx and last_seq describe the append's (or the repeated append's) last
-- event; for a conflict last_revision is the stream's and the rest is null.
-- +goose StatementBegin
CREATE FUNCTION roster_append(
    p_stream   text,
    p_expected bigint,
    p_ids      uuid[],
    p_types    text[],
    p_data     text[],
    p_metadata text[]
) RETURNS TABLE (outcome text, last_revision bigint, tx xid8, last_seq bigint)
LANGUAGE plpgsql AS $$
DECLARE
    n       int := cardinality(p_ids);
    stored  int;
    clean   int;
    current bigint;
BEGIN
    -- 0x726f7374 ("rost"): the lock class of event streams.
    PERFORM pg_advisory_xact_lock(1919906676, hashtext(p_stream));
    FOR attempt IN 1..10 LOOP
        SELECT count(*),
               count(*) FILTER (WHERE e.stream_id = p_stream
                                  AND e.revision = first.revision + u.ord - 1)
          INTO stored, clean
          FROM unnest(p_ids) WITH ORDINALITY AS u(id, ord)
          JOIN events e ON e.event_id = u.id
          LEFT JOIN LATERAL (SELECT f.revision FROM events f WHERE f.event_id = p_ids[1]) first ON true;
        IF stored > 0 THEN
            IF clean = n THEN
                RETURN QUERY SELECT 'repeat'::text, e.revision, e.transaction_id, e.seq
                  FROM events e WHERE e.event_id = p_ids[n];
            ELSE
                RETURN QUERY SELECT 'duplicate'::text, NULL::bigint, NULL::xid8, NULL::bigint;
            END IF;
            RETURN;
        END IF;

        SELECT coalesce(max(e.revision), -1) INTO current FROM events e WHERE e.stream_id = p_stream;
        IF NOT (p_expected = -2 OR (p_expected = -1 AND current < 0) OR p_expected = current) THEN
            RETURN QUERY SELECT 'conflict'::text, current, NULL::xid8, NULL::bigint;
            RETURN;
        END IF;

        BEGIN
            RETURN QUERY
            WITH ins AS (
                INSERT INTO events (event_id, stream_id, revision, type, data, metadata)
                SELECT u.id, p_stream, current + u.ord, u.type, u.data::json, u.metadata::json
                  FROM unnest(p_ids, p_types, p_data, p_metadata) WITH ORDINALITY AS u(id, type, data, metadata, ord)
                 ORDER BY u.ord
                RETURNING events.revision, events.transaction_id, events.seq
            )
            SELECT 'appended'::text, ins.revision, ins.transaction_id, ins.seq
              FROM ins ORDER BY ins.revision DESC LIMIT 1;
            PERFORM pg_notify('roster_events', '');
            RETURN;
        EXCEPTION WHEN unique_violation THEN
            -- A writer that does not take the stream's turn (a binary from
            -- before this function, during a rolling upgrade) committed the
            -- revision or the IDs while the insert waited on it: look again,
            -- now that its rows are visible.
            IF attempt = 10 THEN
                RAISE;
            END IF;
        END;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION roster_append(text, bigint, uuid[], text[], text[], text[]);
