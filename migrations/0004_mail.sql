-- +goose Up

-- The mail ledger (infra/mail): one row per event that asked for a mail, so a
-- redelivered event never mails twice and a mail that cannot go out stays
-- visible. It holds who the mail was for and its subject, never the message
-- body: the body carries the invitation token, which must not rest anywhere
-- readable.
--
-- status moves pending -> sending -> sent, or -> pending again after a
-- failure worth retrying, or -> failed after a refusal or too many attempts;
-- an operator moves failed back to pending. A 'sending' row whose claim has
-- run out (claimed_until in the past) belongs to an attempt that died: its
-- outcome is unknown and the next delivery sends again.
CREATE TABLE mail_ledger (
    event_id        uuid        PRIMARY KEY,
    recipient       text        NOT NULL,
    subject         text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    -- Attempts started, counted when one starts, so an attempt cut short by
    -- a crash counts too.
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error      text,
    -- When the ledger's backoff would allow the next attempt (pending only).
    next_attempt_at timestamptz,
    -- Until when the attempt in progress holds the row (sending only).
    claimed_until   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);

-- Operators and sweepers look at the rows not yet sent; sent rows are the
-- bulk and stay out of this index.
CREATE INDEX mail_ledger_open ON mail_ledger (status, updated_at DESC) WHERE status <> 'sent';

-- +goose Down
DROP TABLE mail_ledger;
