-- +goose Up
CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    plan        TEXT NOT NULL DEFAULT 'standard',
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP,
    revoked_at   TIMESTAMP
);

CREATE TABLE connections (
    id                    TEXT PRIMARY KEY,
    workspace_id          TEXT NOT NULL REFERENCES workspaces(id),
    provider              TEXT NOT NULL,
    status                TEXT NOT NULL,
    reason                TEXT NOT NULL DEFAULT '',
    reason_detail         TEXT NOT NULL DEFAULT '',
    config                TEXT NOT NULL DEFAULT '{}',
    scopes_requested      TEXT NOT NULL DEFAULT '[]',
    scopes_granted        TEXT NOT NULL DEFAULT '[]',
    scopes_added          TEXT NOT NULL DEFAULT '[]',
    scopes_dropped        TEXT NOT NULL DEFAULT '[]',
    account_id            TEXT NOT NULL DEFAULT '',
    account_name          TEXT NOT NULL DEFAULT '',
    account_email         TEXT NOT NULL DEFAULT '',
    endpoint              TEXT NOT NULL DEFAULT '',
    notes                 TEXT NOT NULL DEFAULT '',
    connected_at          TIMESTAMP,
    last_activity_at      TIMESTAMP,
    expires_at            TIMESTAMP,
    last_checked_at       TIMESTAMP,
    refresh_failures      INTEGER NOT NULL DEFAULT 0,
    refresh_blocked_until TIMESTAMP,
    last_refresh_at       TIMESTAMP,
    last_error            TEXT NOT NULL DEFAULT '',
    created_at            TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL
);
CREATE INDEX connections_workspace ON connections(workspace_id, provider);

CREATE TABLE credentials (
    connection_id TEXT PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE,
    key_id        TEXT NOT NULL,
    ciphertext    BLOB NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);

CREATE TABLE oauth_states (
    state_hash           TEXT PRIMARY KEY,
    workspace_id         TEXT NOT NULL REFERENCES workspaces(id),
    connection_id        TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    provider             TEXT NOT NULL,
    purpose              TEXT NOT NULL,
    verifier             BLOB NOT NULL,
    scopes               TEXT NOT NULL DEFAULT '[]',
    allow_account_change INTEGER NOT NULL DEFAULT 0,
    created_by           TEXT NOT NULL DEFAULT '',
    expires_at           TIMESTAMP NOT NULL,
    used_at              TIMESTAMP
);

CREATE TABLE data_tables (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    name         TEXT NOT NULL,
    columns      TEXT NOT NULL DEFAULT '[]',
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);

CREATE TABLE table_rows (
    id         TEXT PRIMARY KEY,
    table_id   TEXT NOT NULL REFERENCES data_tables(id) ON DELETE CASCADE,
    vals       TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP
);
CREATE INDEX table_rows_table ON table_rows(table_id, id);

CREATE TABLE row_sources (
    table_id      TEXT NOT NULL REFERENCES data_tables(id) ON DELETE CASCADE,
    row_id        TEXT NOT NULL REFERENCES table_rows(id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL,
    object        TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    pushed_hash   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (table_id, connection_id, object, external_id)
);
CREATE INDEX row_sources_row ON row_sources(row_id);

CREATE TABLE syncs (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    connection_id TEXT NOT NULL REFERENCES connections(id),
    table_id      TEXT NOT NULL REFERENCES data_tables(id),
    direction     TEXT NOT NULL,
    object        TEXT NOT NULL,
    filter        TEXT NOT NULL DEFAULT '',
    mapping       TEXT NOT NULL DEFAULT '[]',
    match_key     TEXT NOT NULL DEFAULT '',
    mode          TEXT NOT NULL DEFAULT 'incremental',
    schedule      TEXT NOT NULL DEFAULT 'manual',
    paused        INTEGER NOT NULL DEFAULT 0,
    pause_reason  TEXT NOT NULL DEFAULT '',
    cursor        TEXT NOT NULL DEFAULT '',
    max_records   INTEGER NOT NULL DEFAULT 0,
    next_run_at   TIMESTAMP,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE INDEX syncs_connection ON syncs(connection_id);

CREATE TABLE sync_runs (
    id           TEXT PRIMARY KEY,
    sync_id      TEXT NOT NULL REFERENCES syncs(id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    trigger      TEXT NOT NULL,
    status       TEXT NOT NULL,
    started_at   TIMESTAMP NOT NULL,
    finished_at  TIMESTAMP,
    n_read       INTEGER NOT NULL DEFAULT 0,
    n_created    INTEGER NOT NULL DEFAULT 0,
    n_updated    INTEGER NOT NULL DEFAULT 0,
    n_unchanged  INTEGER NOT NULL DEFAULT 0,
    n_failed     INTEGER NOT NULL DEFAULT 0,
    error_class  TEXT NOT NULL DEFAULT '',
    error        TEXT NOT NULL DEFAULT '',
    row_errors   TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX sync_runs_sync ON sync_runs(sync_id, started_at);

CREATE TABLE events (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL,
    connection_id TEXT NOT NULL DEFAULT '',
    kind          TEXT NOT NULL,
    message       TEXT NOT NULL,
    data          TEXT NOT NULL DEFAULT '{}',
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX events_workspace ON events(workspace_id, created_at);

-- +goose Down
DROP TABLE events;
DROP TABLE sync_runs;
DROP TABLE syncs;
DROP TABLE row_sources;
DROP TABLE table_rows;
DROP TABLE data_tables;
DROP TABLE oauth_states;
DROP TABLE credentials;
DROP TABLE connections;
DROP TABLE api_tokens;
DROP TABLE workspaces;
