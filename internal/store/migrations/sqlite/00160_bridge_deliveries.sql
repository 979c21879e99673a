-- +goose Up
-- Deliveries a webhook-bridge URL accepted, remembered while a replay could
-- still pass (a signature within its 5-minute window, an idempotency key for
-- a day), so that the same request never writes twice, in any process.
CREATE TABLE bridge_deliveries (
    hook_id    TEXT NOT NULL REFERENCES table_hooks(id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (hook_id, key)
);
CREATE INDEX bridge_deliveries_expiry ON bridge_deliveries(expires_at);

-- +goose Down
DROP TABLE bridge_deliveries;
