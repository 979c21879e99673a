-- +goose Up
-- Request budgets shared by every process (transport.SharedLog): one row per
-- rate window of a provider account, locked while a request is reserved, and
-- the log of the requests sent within the window's length.
CREATE TABLE rate_windows (
    key TEXT PRIMARY KEY
);
CREATE TABLE rate_log (
    key     TEXT NOT NULL,
    id      BIGINT GENERATED ALWAYS AS IDENTITY,
    sent_at TIMESTAMPTZ NOT NULL,
    done_at TIMESTAMPTZ, -- NULL while in flight
    PRIMARY KEY (key, id)
);

-- +goose Down
DROP TABLE rate_log;
DROP TABLE rate_windows;
