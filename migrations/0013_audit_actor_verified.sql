-- +goose Up

-- Whether the actor's token verified actor_email. The audit shows an
-- unverified email to nobody (anyone can claim any address), but keeps it,
-- so that erasing that address still finds the row and scrubs the client IP
-- and user agent sealed under it. NULL for the rows of events written
-- before verification was recorded, which show their email as they did.
ALTER TABLE rm_audit ADD COLUMN actor_email_verified boolean;

-- +goose Down
ALTER TABLE rm_audit DROP COLUMN actor_email_verified;
