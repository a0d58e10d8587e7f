-- +goose Up

-- roster_append (migration 0018) with four more arguments, an overload of
-- its own: it also stores the personal-data keys
-- (privacy_subjects, migration 0007) the appended events are sealed under
-- and that were made for them. A new invitee's key used to cost a
-- statement and a transaction of its own, with its own flush, before the
-- append; made here, the key and the events it seals commit together, so a
-- stored event never names a key that was lost.
--
-- The steps are roster_append's; the keys are inserted just before the
-- events, after the turn is taken and the revision checked. A key whose
-- email or account has a live key already (another command, or another
-- instance, made one meanwhile, or this process did not know it) is not
-- inserted: then nothing is stored, and the call answers outcome 'keys'
-- with one row per live key of the p_key_emails and p_key_accounts (in
-- key_id, key_email, key_account, key_data), for the caller to seal again
-- under those and call again. The key columns are null for every other
-- outcome. p_key_emails and p_key_accounts hold '' where a key has none,
-- p_key_data the keys in hex;
-- with no keys the call is roster_append but for the notification.
--
-- Unlike the six-argument one it does not NOTIFY: a transaction that notifies
-- takes a database-wide lock at commit and holds it until its commit is
-- flushed, so every append queued behind the one before for the whole of
-- its WAL flush, and appends to different streams could not share a flush.
-- The caller signals the feed's subscribers after the commit instead
-- (infra/eventstore/postgres, Store.announce).
-- +goose StatementBegin
CREATE FUNCTION roster_append(
    p_stream       text,
    p_expected     bigint,
    p_ids          uuid[],
    p_types        text[],
    p_data         text[],
    p_metadata     text[],
    p_key_ids      uuid[],
    p_key_emails   text[],
    p_key_accounts text[],
    p_key_data     text[]
) RETURNS TABLE (outcome text, last_revision bigint, tx xid8, last_seq bigint,
                 key_id uuid, key_email text, key_account text, key_data bytea)
LANGUAGE plpgsql AS $$
DECLARE
    n       int := cardinality(p_ids);
    stored  int;
    clean   int;
    current bigint;
    made    bigint;
BEGIN
    -- 0x726f7374 ("rost"): the lock class of event streams, as roster_append.
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
                RETURN QUERY SELECT 'repeat'::text, e.revision, e.transaction_id, e.seq,
                                    NULL::uuid, NULL::text, NULL::text, NULL::bytea
                  FROM events e WHERE e.event_id = p_ids[n];
            ELSE
                RETURN QUERY SELECT 'duplicate'::text, NULL::bigint, NULL::xid8, NULL::bigint,
                                    NULL::uuid, NULL::text, NULL::text, NULL::bytea;
            END IF;
            RETURN;
        END IF;

        SELECT coalesce(max(e.revision), -1) INTO current FROM events e WHERE e.stream_id = p_stream;
        IF NOT (p_expected = -2 OR (p_expected = -1 AND current < 0) OR p_expected = current) THEN
            RETURN QUERY SELECT 'conflict'::text, current, NULL::xid8, NULL::bigint,
                                NULL::uuid, NULL::text, NULL::text, NULL::bytea;
            RETURN;
        END IF;

        BEGIN
            INSERT INTO privacy_subjects (subject_id, email, account_id, data_key)
            SELECT k.id, NULLIF(k.email, ''), NULLIF(k.account, ''), decode(k.data, 'hex')
              FROM unnest(p_key_ids, p_key_emails, p_key_accounts, p_key_data) AS k(id, email, account, data)
            ON CONFLICT DO NOTHING;
            GET DIAGNOSTICS made = ROW_COUNT;
            IF made < coalesce(cardinality(p_key_ids), 0) THEN
                -- RK001: undoes this block's inserts; answered below.
                RAISE EXCEPTION USING ERRCODE = 'RK001';
            END IF;

            RETURN QUERY
            WITH ins AS (
                INSERT INTO events (event_id, stream_id, revision, type, data, metadata)
                SELECT u.id, p_stream, current + u.ord, u.type, u.data::json, u.metadata::json
                  FROM unnest(p_ids, p_types, p_data, p_metadata) WITH ORDINALITY AS u(id, type, data, metadata, ord)
                 ORDER BY u.ord
                RETURNING events.revision, events.transaction_id, events.seq
            )
            SELECT 'appended'::text, ins.revision, ins.transaction_id, ins.seq,
                   NULL::uuid, NULL::text, NULL::text, NULL::bytea
              FROM ins ORDER BY ins.revision DESC LIMIT 1;
            RETURN;
        EXCEPTION
            WHEN SQLSTATE 'RK001' THEN
                RETURN QUERY
                SELECT 'keys'::text, current, NULL::xid8, NULL::bigint,
                       s.subject_id, coalesce(s.email, ''), coalesce(s.account_id, ''), s.data_key
                  FROM privacy_subjects s
                 WHERE s.erased_at IS NULL
                   AND (s.email = ANY(p_key_emails) OR s.account_id = ANY(p_key_accounts));
                RETURN;
            WHEN unique_violation THEN
                -- As in roster_append: a writer that does not take the
                -- stream's turn took the revision or the IDs; look again.
                IF attempt = 10 THEN
                    RAISE;
                END IF;
        END;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION roster_append(text, bigint, uuid[], text[], text[], text[], uuid[], text[], text[], text[]);
