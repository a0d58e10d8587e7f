-- +goose Up

-- Checkpoints of the feed's consumers that do not write their own in the
-- transaction that handles an event (projectors do, in
-- projection_checkpoints): the mail consumer, the broker forwarder. The
-- feed subscriber saves one after each acknowledged event, so a restart
-- sends again at most the event in hand.
CREATE TABLE consumer_checkpoints (
    name             text        PRIMARY KEY,
    commit_position  bigint      NOT NULL DEFAULT 0,
    prepare_position bigint      NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Events a consumer gave up on after its retries (watermill's poison
-- queue), so one bad event cannot stall a consumer forever and an operator
-- sees every one of them. payload and metadata are the message's; an
-- operator replays one by hand once its cause is fixed.
CREATE TABLE poison_messages (
    id           bigserial   PRIMARY KEY,
    consumer     text        NOT NULL,
    message_uuid text        NOT NULL,
    event_type   text,
    stream_id    text,
    reason       text        NOT NULL,
    payload      bytea       NOT NULL,
    metadata     jsonb       NOT NULL,
    poisoned_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (consumer, message_uuid)
);

-- +goose Down
DROP TABLE poison_messages;
DROP TABLE consumer_checkpoints;
