-- +goose Up

-- The mail ledger becomes the queue the sender pool (infra/mail.Dispatcher)
-- delivers from, apart from the feed's order: the feed's consumer records
-- each mail here and moves on, and the pool sends across properties, a few
-- per property at a time, so one property's backlog delays no other's mail.
--
-- property_id is whose mail it is, for that fairness. event is the event the
-- mail is written from, as the feed gave it (its personal fields still
-- sealed, as in the event store): the pool writes the mail from it when it
-- sends, so the ledger still holds no body and no token, and a person
-- forgotten meanwhile is not mailed. It is dropped once the mail is sent.
-- Both are NULL on rows recorded before this migration; the consumer fills
-- them in when the feed delivers such an event again.
--
-- lease_holder names the process whose attempt holds a 'sending' row, and
-- lease_id that one attempt. A process that lost the database between its
-- claim and the outcome recognises its own lease once the database is back
-- and completes it, instead of waiting for claimed_until as a stranger
-- must; lease_id fences the outcome an attempt writes, so an attempt that
-- was overtaken cannot overwrite its successor's.
ALTER TABLE mail_ledger
    ADD COLUMN property_id  text,
    ADD COLUMN event        bytea,
    ADD COLUMN lease_holder text,
    ADD COLUMN lease_id     uuid;

-- The pool's pick: per property, the oldest open mails first.
CREATE INDEX mail_ledger_queue ON mail_ledger (property_id, created_at, event_id)
    WHERE status IN ('pending', 'sending') AND property_id IS NOT NULL;

-- A mail waits for the older open mails of its property to the same
-- recipient (a resend's for its invitation's), found through this one.
CREATE INDEX mail_ledger_queue_recipient ON mail_ledger (property_id, recipient, created_at)
    WHERE status IN ('pending', 'sending') AND property_id IS NOT NULL;

-- +goose Down
DROP INDEX mail_ledger_queue_recipient;
DROP INDEX mail_ledger_queue;
ALTER TABLE mail_ledger
    DROP COLUMN lease_id,
    DROP COLUMN lease_holder,
    DROP COLUMN event,
    DROP COLUMN property_id;
