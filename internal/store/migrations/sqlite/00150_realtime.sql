-- +goose Up
-- Change subscriptions Patchbay created at a provider for the realtime syncs
-- of a connection: one per connection and object. The URL the provider posts
-- to names the row and carries a token (kept as a hash); a secret the
-- provider gave (Airtable's MAC secret) is sealed by the vault.
CREATE TABLE realtime_subscriptions (
    id               TEXT PRIMARY KEY,
    connection_id    TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    object           TEXT NOT NULL,
    external_id      TEXT NOT NULL DEFAULT '',
    token_hash       TEXT NOT NULL,
    secret           BLOB,
    cursor           TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL,
    reason           TEXT NOT NULL DEFAULT '',
    expires_at       TIMESTAMP,
    created_at       TIMESTAMP NOT NULL,
    checked_at       TIMESTAMP,
    last_delivery_at TIMESTAMP,
    deliveries       BIGINT NOT NULL DEFAULT 0,
    duplicates       BIGINT NOT NULL DEFAULT 0,
    refused          BIGINT NOT NULL DEFAULT 0,
    UNIQUE (connection_id, object)
);

-- Delivery ids seen per subscription, to drop a provider's duplicate
-- deliveries and replays; pruned after a day.
CREATE TABLE realtime_deliveries (
    subscription_id TEXT NOT NULL REFERENCES realtime_subscriptions(id) ON DELETE CASCADE,
    delivery_id     TEXT NOT NULL,
    received_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (subscription_id, delivery_id)
);
CREATE INDEX realtime_deliveries_received ON realtime_deliveries(received_at);

-- +goose Down
DROP TABLE realtime_deliveries;
DROP TABLE realtime_subscriptions;
