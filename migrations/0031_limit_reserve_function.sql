-- +goose Up

-- A reservation of invitation quota (infra/limits) in one call. Taken as
-- separate statements of one transaction, the account's hourly counter row
-- stayed locked over five round trips and the commit's flush, and every
-- invitation the same account sent, from any instance, queued on it. Here
-- the row is locked from the statement that takes it to the end of this
-- call's implicit transaction.
--
-- In order, as the statements did:
-- 1. A command with an Idempotency-Key (p_command_id not empty) already
--    counted is not counted again: counted is false and nothing changes.
-- 2. The property's daily limits are its override's, else p_per_day and
--    p_new_per_day.
-- 3. The account's hour, then the property's day, then the addresses the
--    property has not invited today (p_hashes, sorted, so two calls lock
--    them in one order), each added only if the sum stays within its limit.
-- The first limit a take would pass undoes every change of the call and is
-- answered in refused (the limit's name), used (its count before the call)
-- lim (the limit) and asked (what the call would have added to it);
-- otherwise refused is null and fresh holds the
-- addresses counted as new.
--
-- The commit does not wait for its WAL to reach the disk: a reservation
-- precedes the command it counts, and the command's own commit flushes the
-- WAL written before it, this commit included. A crash can lose only the
-- reservations of commands that were never stored, which then count for
-- nothing, as a released reservation does.
-- limit_take adds n to the counter of name and key in the window starting
-- at w, only if the sum stays within lim, in one statement; taken says
-- whether it did, used is the count it found when it did not.
-- +goose StatementBegin
CREATE FUNCTION limit_take(p_name text, p_key text, p_window timestamptz, p_n integer, p_lim integer,
    OUT taken boolean, OUT used integer)
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO limit_counters AS c (name, key, window_start, count)
        SELECT p_name, p_key, p_window, p_n WHERE p_n <= p_lim
        ON CONFLICT (name, key, window_start) DO UPDATE SET count = c.count + EXCLUDED.count
            WHERE c.count + EXCLUDED.count <= p_lim;
    taken := FOUND;
    IF NOT taken THEN
        SELECT coalesce(max(c.count), 0) INTO used FROM limit_counters c
         WHERE c.name = p_name AND c.key = p_key AND c.window_start = p_window;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION limit_reserve_invitations(
    p_command_id  text,
    p_property    text,
    p_actor       text,
    p_hour        timestamptz,
    p_day         timestamptz,
    p_n           integer,
    p_actor_limit integer,
    p_per_day     integer,
    p_new_per_day integer,
    p_hashes      bytea[],
    p_at          timestamptz,
    OUT counted   boolean,
    OUT refused   text,
    OUT used      integer,
    OUT lim       integer,
    OUT asked     integer,
    OUT fresh     bytea[]
)
LANGUAGE plpgsql AS $$
DECLARE
    over_day integer;
    over_new integer;
    taken    integer;
    ok       boolean;
BEGIN
    counted := true;
    PERFORM set_config('synchronous_commit', 'off', true);
    BEGIN
        IF p_command_id <> '' THEN
            INSERT INTO limit_reservations (command_id, reserved_at) VALUES (p_command_id, p_at)
                ON CONFLICT DO NOTHING;
            IF NOT FOUND THEN
                counted := false;
                RETURN;
            END IF;
        END IF;
        SELECT o.invitations_per_day, o.new_emails_per_day INTO over_day, over_new
          FROM limit_overrides o WHERE o.property_id = p_property;
        p_per_day := coalesce(over_day, p_per_day);
        p_new_per_day := coalesce(over_new, p_new_per_day);

        refused := 'invitations_per_actor';
        lim := p_actor_limit;
        asked := p_n;
        SELECT t.taken, t.used INTO ok, used FROM limit_take(refused, p_actor, p_hour, p_n, lim) t;
        IF NOT ok THEN
            RAISE EXCEPTION USING ERRCODE = 'RL001';
        END IF;

        refused := 'invitations_per_property';
        lim := p_per_day;
        SELECT t.taken, t.used INTO ok, used FROM limit_take(refused, p_property, p_day, p_n, lim) t;
        IF NOT ok THEN
            RAISE EXCEPTION USING ERRCODE = 'RL001';
        END IF;

        WITH ins AS (
            INSERT INTO limit_new_emails (property_id, day, email_hash)
            SELECT p_property, (p_day AT TIME ZONE 'UTC')::date, h FROM unnest(p_hashes) AS h ORDER BY h
            ON CONFLICT DO NOTHING RETURNING email_hash
        )
        SELECT array_agg(ins.email_hash ORDER BY ins.email_hash) INTO fresh FROM ins;
        taken := coalesce(cardinality(fresh), 0);
        IF taken > 0 THEN
            refused := 'new_emails_per_property';
            lim := p_new_per_day;
            asked := taken;
            SELECT t.taken, t.used INTO ok, used FROM limit_take(refused, p_property, p_day, taken, lim) t;
            IF NOT ok THEN
                fresh := NULL;
                RAISE EXCEPTION USING ERRCODE = 'RL001';
            END IF;
        END IF;
        refused := NULL;
        used := NULL;
        lim := NULL;
        asked := NULL;
    EXCEPTION WHEN SQLSTATE 'RL001' THEN
        -- The block's changes are undone; refused, used and lim say why.
        fresh := NULL;
    END;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION limit_reserve_invitations(text, text, text, timestamptz, timestamptz, integer, integer, integer,
    integer, bytea[], timestamptz);
DROP FUNCTION limit_take(text, text, timestamptz, integer, integer);
