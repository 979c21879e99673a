-- +goose Up
-- An action column of a table: one lookup at one or more data-provider
-- connections (a waterfall, in order), its input and output mapping (spec),
-- and whether it runs (status: active, or stopped with a reason).
CREATE TABLE action_columns (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id),
    table_id      TEXT NOT NULL REFERENCES data_tables(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    spec          TEXT NOT NULL DEFAULT '{}',
    status        TEXT NOT NULL DEFAULT 'active',
    status_reason TEXT NOT NULL DEFAULT '',
    status_detail TEXT NOT NULL DEFAULT '',
    scanned_at    TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (table_id, name)
);

-- One cell per row and action column. due_at is set while the cell waits
-- for work (pending, or a failure retried later) and doubles as a lease.
CREATE TABLE enrich_cells (
    row_id      TEXT NOT NULL REFERENCES table_rows(id) ON DELETE CASCADE,
    column_id   TEXT NOT NULL REFERENCES action_columns(id) ON DELETE CASCADE,
    table_id    TEXT NOT NULL,
    state       TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    message     TEXT NOT NULL DEFAULT '',
    provider    TEXT NOT NULL DEFAULT '',
    via         TEXT NOT NULL DEFAULT '',
    input_hash  TEXT NOT NULL DEFAULT '',
    attempts    INTEGER NOT NULL DEFAULT 0,
    run_id      TEXT NOT NULL DEFAULT '',
    due_at      TIMESTAMPTZ,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (row_id, column_id)
);
CREATE INDEX enrich_cells_due ON enrich_cells(due_at);
CREATE INDEX enrich_cells_column ON enrich_cells(column_id, state);

-- Answers of providers, shared by every table: key is connection + lookup + input.
CREATE TABLE enrich_cache (
    key        TEXT PRIMARY KEY,
    found      BOOLEAN NOT NULL,
    data       TEXT NOT NULL DEFAULT '{}',
    fetched_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX enrich_cache_fetched ON enrich_cache(fetched_at);

-- Per-table enrichment settings and the day's spending.
CREATE TABLE enrich_settings (
    table_id     TEXT PRIMARY KEY REFERENCES data_tables(id) ON DELETE CASCADE,
    daily_budget INTEGER NOT NULL DEFAULT 0,
    cache_ttl_s  INTEGER NOT NULL DEFAULT 0,
    day          TEXT NOT NULL DEFAULT '',
    used         INTEGER NOT NULL DEFAULT 0
);

-- A run of an action column: the cells one trigger queued, and what came of them.
CREATE TABLE enrich_runs (
    id          TEXT PRIMARY KEY,
    column_id   TEXT NOT NULL REFERENCES action_columns(id) ON DELETE CASCADE,
    trigger     TEXT NOT NULL,
    only_cells  TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    queued      INTEGER NOT NULL DEFAULT 0,
    cache_hits  INTEGER NOT NULL DEFAULT 0,
    lookups     INTEGER NOT NULL DEFAULT 0,
    found       INTEGER NOT NULL DEFAULT 0,
    not_found   INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    skipped     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX enrich_runs_column ON enrich_runs(column_id, created_at);

-- New and changed rows are found by time.
CREATE INDEX table_rows_updated ON table_rows(table_id, updated_at);

-- +goose Down
DROP INDEX table_rows_updated;
DROP TABLE enrich_runs;
DROP TABLE enrich_settings;
DROP TABLE enrich_cache;
DROP TABLE enrich_cells;
DROP TABLE action_columns;
