-- +goose Up
-- Inbound webhook URLs of tables (the webhook bridge). The URL's token is
-- kept as a hash; the optional HMAC signing secret is sealed by the vault.
CREATE TABLE table_hooks (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    table_id     TEXT NOT NULL REFERENCES data_tables(id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,
    secret       BLOB,
    match_column TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);
CREATE INDEX table_hooks_table ON table_hooks(table_id);

-- +goose Down
DROP TABLE table_hooks;
