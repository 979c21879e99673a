-- +goose Up
-- Auth-class failures that syncs reported, to tell a connection problem
-- (several syncs failing within a window) from one sync's bad luck.
CREATE TABLE sync_failures (
    id            TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    sync_id       TEXT NOT NULL,
    reason        TEXT NOT NULL,
    failed_at     TIMESTAMP NOT NULL
);
CREATE INDEX sync_failures_connection ON sync_failures(connection_id, failed_at);

-- Who hears about which connection: an e-mail address or a webhook URL, for
-- one connection or (connection_id '') for every connection of the workspace.
CREATE TABLE notification_routes (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    connection_id TEXT NOT NULL DEFAULT '',
    channel       TEXT NOT NULL,
    target        TEXT NOT NULL,
    secret        BLOB,
    events        TEXT NOT NULL DEFAULT '[]',
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX notification_routes_workspace ON notification_routes(workspace_id);

-- An episode is one stretch of trouble (a connection red, a token about to
-- expire, a sync failing again and again): one alert opens it, the recovery
-- closes it. period_key names digests already sent ("digest:2026-11").
CREATE TABLE notification_episodes (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL,
    connection_id TEXT NOT NULL DEFAULT '',
    subject       TEXT NOT NULL DEFAULT '',
    kind          TEXT NOT NULL,
    detail        TEXT NOT NULL DEFAULT '',
    opened_at     TIMESTAMP NOT NULL,
    closed_at     TIMESTAMP
);
-- At most one open episode per subject: several workers may see the same
-- trouble at once, and only the first one alerts.
CREATE UNIQUE INDEX notification_episodes_open ON notification_episodes(workspace_id, connection_id, kind, subject)
    WHERE closed_at IS NULL;

-- +goose Down
DROP TABLE notification_episodes;
DROP TABLE notification_routes;
DROP TABLE sync_failures;
