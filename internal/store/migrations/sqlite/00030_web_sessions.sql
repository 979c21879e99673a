-- +goose Up
-- Dashboard sessions: the cookie carries a random id, only its SHA-256 is stored.
CREATE TABLE web_sessions (
    id_hash      TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    token_id     TEXT NOT NULL REFERENCES api_tokens(id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions(expires_at);

-- One-time login links (patchbay demo prints one): good once, until they expire.
CREATE TABLE web_login_links (
    code_hash    TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    token_id     TEXT NOT NULL REFERENCES api_tokens(id) ON DELETE CASCADE,
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    used_at      TIMESTAMP
);

-- +goose Down
DROP TABLE web_login_links;
DROP TABLE web_sessions;
