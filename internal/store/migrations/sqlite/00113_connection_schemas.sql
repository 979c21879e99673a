-- +goose Up
-- Each connection's objects and fields as the provider last described them
-- (custom fields included): JSON of connector.Schema.
CREATE TABLE connection_schemas (
    connection_id TEXT PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE,
    body          TEXT NOT NULL,
    fetched_at    TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE connection_schemas;
