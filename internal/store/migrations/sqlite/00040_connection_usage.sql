-- +goose Up
-- The request quota a provider last reported for a connection (Salesforce's
-- daily API requests), shown on the connection detail.
CREATE TABLE connection_usage (
    connection_id TEXT PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE,
    used          BIGINT NOT NULL,
    quota         BIGINT NOT NULL,
    period        TEXT NOT NULL,
    observed_at   TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE connection_usage;
