-- +goose Up

-- Webhook deliveries (infra/webhooks). The endpoints' settings live in the
-- properties' streams; webhook_endpoints is the delivery consumer's copy of
-- what it needs to send, fed by the same feed, with the state of the
-- failures in a row that disable an endpoint. No secret is stored: the
-- nonces derive them under the server key.
CREATE TABLE webhook_endpoints (
    endpoint_id    text        PRIMARY KEY,
    property_id    text        NOT NULL,
    url            text        NOT NULL,
    event_types    text[]      NOT NULL,
    enabled        boolean     NOT NULL,
    deleted        boolean     NOT NULL DEFAULT false,
    secret_nonce   text        NOT NULL,
    -- The secret before the last rotation signs too until previous_until.
    previous_nonce text,
    previous_until timestamptz,
    -- When the failures in a row began; NULL after a success.
    failing_since  timestamptz
);

CREATE INDEX webhook_endpoints_property ON webhook_endpoints (property_id) WHERE NOT deleted;

-- One row per event to send to one endpoint, in the feed's order (id), the
-- body written when it was queued: the public integration event. status
-- moves pending -> sending -> delivered, or back to pending after a failed
-- attempt, or to failed once the endpoint has failed for the whole retry
-- horizon; cancelled when the endpoint was deleted. origin says whether
-- the feed queued it (once per event and endpoint) or an admin asked for it
-- again (redeliver, replay).
CREATE TABLE webhook_deliveries (
    id               bigserial   PRIMARY KEY,
    endpoint_id      text        NOT NULL REFERENCES webhook_endpoints ON DELETE CASCADE,
    property_id      text        NOT NULL,
    event_id         text        NOT NULL,
    event_type       text        NOT NULL,
    occurred_at      timestamptz NOT NULL,
    body             bytea       NOT NULL,
    origin           text        NOT NULL CHECK (origin IN ('feed', 'redeliver', 'replay')),
    status           text        NOT NULL CHECK (status IN ('pending', 'sending', 'delivered', 'failed', 'cancelled')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    -- Until when the attempt in progress holds the row (sending only), and
    -- which attempt it is, so an overtaken attempt cannot write its outcome.
    claimed_until    timestamptz,
    lease_id         uuid,
    last_status_code integer,
    last_error       text,
    last_duration_ms integer,
    last_attempt_at  timestamptz,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL
);

-- The feed queues an event for an endpoint once, however often it is redelivered.
CREATE UNIQUE INDEX webhook_deliveries_once ON webhook_deliveries (endpoint_id, event_id) WHERE origin = 'feed';
-- Each endpoint's open deliveries in order: the dispatcher sends the first.
CREATE INDEX webhook_deliveries_open ON webhook_deliveries (endpoint_id, id) WHERE status IN ('pending', 'sending');
-- The delivery log, newest first.
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, id DESC);

-- Every attempt, for the delivery log.
CREATE TABLE webhook_attempts (
    delivery_id bigint      NOT NULL REFERENCES webhook_deliveries ON DELETE CASCADE,
    attempt     integer     NOT NULL,
    at          timestamptz NOT NULL,
    status_code integer,
    error       text,
    duration_ms integer     NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
