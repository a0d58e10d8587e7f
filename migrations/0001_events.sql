-- +goose Up
-- Placeholder replaced by the event store work in this same change.
SELECT 1;
-- +goose Down
SELECT 1;
