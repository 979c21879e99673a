-- +goose Up
CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    email      TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE memberships (
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    user_id      TEXT NOT NULL REFERENCES users(id),
    role         TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_user ON memberships(user_id);

-- A token belongs to a member (user_id) and acts with at most that member's
-- role; a token without a user is a workspace token (the bootstrap token).
ALTER TABLE api_tokens ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
ALTER TABLE api_tokens ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
CREATE INDEX api_tokens_workspace ON api_tokens(workspace_id, user_id);

-- The bootstrap token is the default workspace's owner.
UPDATE api_tokens SET role = 'owner' WHERE name = 'bootstrap' AND role = 'admin';

-- +goose Down
DROP INDEX api_tokens_workspace;
ALTER TABLE api_tokens DROP COLUMN created_by;
ALTER TABLE api_tokens DROP COLUMN user_id;
DROP TABLE memberships;
DROP TABLE users;
