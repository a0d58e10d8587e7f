-- +goose Up

-- The properties where an account holds a permission (GET
-- /v1/access/properties) are read by account, in property order, a page at
-- a time; rm_access's key leads with the property.
CREATE INDEX rm_access_by_account ON rm_access (account_id, property_id);

-- +goose Down
DROP INDEX rm_access_by_account;
