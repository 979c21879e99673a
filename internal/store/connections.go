package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Connection is one link between a workspace and an account at a provider.
type Connection struct {
	ID                  string
	WorkspaceID         string
	Provider            string
	Status              string
	Reason              string
	ReasonDetail        string
	Config              map[string]string
	ScopesRequested     []string
	ScopesGranted       []string
	ScopesAdded         []string // by the last reconnect
	ScopesDropped       []string // by the last reconnect
	AccountID           string
	AccountName         string
	AccountEmail        string
	Endpoint            string
	Notes               string
	ConnectedAt         time.Time
	LastActivityAt      time.Time
	ExpiresAt           time.Time
	LastCheckedAt       time.Time
	RefreshFailures     int
	RefreshBlockedUntil time.Time
	LastRefreshAt       time.Time
	LastError           string
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

const connectionColumns = `id, workspace_id, provider, status, reason, reason_detail, config, scopes_requested,
	scopes_granted, scopes_added, scopes_dropped, account_id, account_name, account_email, endpoint, notes,
	connected_at, last_activity_at, expires_at, last_checked_at, refresh_failures, refresh_blocked_until,
	last_refresh_at, last_error, created_at, updated_at`

func scanConnection(sc interface{ Scan(...any) error }) (*Connection, error) {
	var c Connection
	var cfg, req, granted, added, dropped string
	var connected, activity, expires, checked, blocked, refreshed sql.NullTime
	err := sc.Scan(&c.ID, &c.WorkspaceID, &c.Provider, &c.Status, &c.Reason, &c.ReasonDetail, &cfg, &req,
		&granted, &added, &dropped, &c.AccountID, &c.AccountName, &c.AccountEmail, &c.Endpoint, &c.Notes,
		&connected, &activity, &expires, &checked, &c.RefreshFailures, &blocked,
		&refreshed, &c.LastError, &c.CreatedAt, &c.UpdatedAt)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		src string
		dst any
	}{{cfg, &c.Config}, {req, &c.ScopesRequested}, {granted, &c.ScopesGranted}, {added, &c.ScopesAdded}, {dropped, &c.ScopesDropped}} {
		if err := json.Unmarshal([]byte(f.src), f.dst); err != nil {
			return nil, fmt.Errorf("connection %s: decode column: %w", c.ID, err)
		}
	}
	c.ConnectedAt, c.LastActivityAt, c.ExpiresAt = timeOf(connected), timeOf(activity), timeOf(expires)
	c.LastCheckedAt, c.RefreshBlockedUntil, c.LastRefreshAt = timeOf(checked), timeOf(blocked), timeOf(refreshed)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return &c, nil
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("store: marshal %T: %v", v, err)) // only plain maps and slices reach here
	}
	return string(b)
}

func emptyIfNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (c *Connection) args() []any {
	cfg := c.Config
	if cfg == nil {
		cfg = map[string]string{}
	}
	return []any{c.WorkspaceID, c.Provider, c.Status, c.Reason, c.ReasonDetail, jsonText(cfg),
		jsonText(emptyIfNil(c.ScopesRequested)), jsonText(emptyIfNil(c.ScopesGranted)), jsonText(emptyIfNil(c.ScopesAdded)),
		jsonText(emptyIfNil(c.ScopesDropped)), c.AccountID, c.AccountName, c.AccountEmail, c.Endpoint, c.Notes,
		nullTime(c.ConnectedAt), nullTime(c.LastActivityAt), nullTime(c.ExpiresAt), nullTime(c.LastCheckedAt),
		c.RefreshFailures, nullTime(c.RefreshBlockedUntil), nullTime(c.LastRefreshAt), c.LastError}
}

// CreateConnection inserts c; ID, CreatedAt and UpdatedAt are set when empty.
func (t *Tx) CreateConnection(ctx context.Context, c *Connection) error {
	if c.ID == "" {
		c.ID = NewID("con")
	}
	now := time.Now().UTC()
	c.CreatedAt, c.UpdatedAt = now, now
	args := append([]any{c.ID}, c.args()...)
	args = append(args, c.CreatedAt, c.UpdatedAt)
	_, err := t.s.exec(ctx, t.tx, `INSERT INTO connections (`+connectionColumns+`)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, args...)
	if err != nil {
		return fmt.Errorf("insert connection: %w", err)
	}
	return nil
}

// UpdateConnection writes every field of c.
func (t *Tx) UpdateConnection(ctx context.Context, c *Connection) error {
	c.UpdatedAt = time.Now().UTC()
	args := append(c.args(), c.UpdatedAt, c.ID)
	res, err := t.s.exec(ctx, t.tx, `UPDATE connections SET workspace_id=?, provider=?, status=?, reason=?, reason_detail=?,
		config=?, scopes_requested=?, scopes_granted=?, scopes_added=?, scopes_dropped=?, account_id=?, account_name=?,
		account_email=?, endpoint=?, notes=?, connected_at=?, last_activity_at=?, expires_at=?, last_checked_at=?,
		refresh_failures=?, refresh_blocked_until=?, last_refresh_at=?, last_error=?, updated_at=? WHERE id=?`, args...)
	if err != nil {
		return fmt.Errorf("update connection %s: %w", c.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("connection %s: %w", c.ID, ErrNotFound)
	}
	return nil
}

// DeleteConnection removes a connection row (used when a fresh connect turns
// out to be the return of an earlier, disconnected connection).
func (t *Tx) DeleteConnection(ctx context.Context, id string) error {
	if _, err := t.s.exec(ctx, t.tx, `DELETE FROM oauth_states WHERE connection_id=?`, id); err != nil {
		return fmt.Errorf("delete states of %s: %w", id, err)
	}
	if _, err := t.s.exec(ctx, t.tx, `DELETE FROM connections WHERE id=?`, id); err != nil {
		return fmt.Errorf("delete connection %s: %w", id, err)
	}
	return nil
}

// GetConnection returns a workspace's connection; ErrNotFound when it is not
// there or belongs to another workspace.
func (s *Store) GetConnection(ctx context.Context, workspaceID, id string) (*Connection, error) {
	c, err := scanConnection(s.queryRow(ctx, s.read, `SELECT `+connectionColumns+` FROM connections WHERE id=? AND workspace_id=?`, id, workspaceID))
	if err != nil {
		return nil, notFound(err, "connection "+id)
	}
	return c, nil
}

// GetConnection reads a connection inside the transaction (after taking the write lock).
func (t *Tx) GetConnection(ctx context.Context, id string) (*Connection, error) {
	c, err := scanConnection(t.s.queryRow(ctx, t.tx, `SELECT `+connectionColumns+` FROM connections WHERE id=?`, id))
	if err != nil {
		return nil, notFound(err, "connection "+id)
	}
	return c, nil
}

// ConnectionByID returns a connection whatever its workspace (background work).
func (s *Store) ConnectionByID(ctx context.Context, id string) (*Connection, error) {
	c, err := scanConnection(s.queryRow(ctx, s.read, `SELECT `+connectionColumns+` FROM connections WHERE id=?`, id))
	if err != nil {
		return nil, notFound(err, "connection "+id)
	}
	return c, nil
}

// ListConnections returns a workspace's connections, oldest first.
func (s *Store) ListConnections(ctx context.Context, workspaceID string) ([]*Connection, error) {
	return s.listConnections(ctx, `SELECT `+connectionColumns+` FROM connections WHERE workspace_id=? ORDER BY id`, workspaceID)
}

// AllConnections returns every connection of every workspace (health sweeps).
func (s *Store) AllConnections(ctx context.Context) ([]*Connection, error) {
	return s.listConnections(ctx, `SELECT `+connectionColumns+` FROM connections ORDER BY id`)
}

// ConnectionsByAccount returns every connection, in any workspace, to one
// provider account (provider webhooks name the account, not a connection).
func (s *Store) ConnectionsByAccount(ctx context.Context, provider, accountID string) ([]*Connection, error) {
	return s.listConnections(ctx, `SELECT `+connectionColumns+` FROM connections WHERE provider=? AND account_id=? ORDER BY id`, provider, accountID)
}

func (s *Store) listConnections(ctx context.Context, q string, args ...any) ([]*Connection, error) {
	rows, err := s.query(ctx, s.read, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	defer rows.Close()
	var out []*Connection
	for rows.Next() {
		c, err := scanConnection(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// FindDisconnected returns the workspace's disconnected connection to the
// same provider account, if any.
func (t *Tx) FindDisconnected(ctx context.Context, workspaceID, provider, accountID, exceptID string) (*Connection, error) {
	c, err := scanConnection(t.s.queryRow(ctx, t.tx, `SELECT `+connectionColumns+` FROM connections
		WHERE workspace_id=? AND provider=? AND account_id=? AND status='disconnected' AND id<>? ORDER BY id LIMIT 1`,
		workspaceID, provider, accountID, exceptID))
	if err != nil {
		return nil, notFound(err, "disconnected connection")
	}
	return c, nil
}

// TouchActivity records a successful provider call.
func (s *Store) TouchActivity(ctx context.Context, connectionID string, at time.Time) error {
	_, err := s.exec(ctx, s.write, `UPDATE connections SET last_activity_at=? WHERE id=? AND (last_activity_at IS NULL OR last_activity_at < ?)`,
		at.UTC(), connectionID, at.UTC())
	return err
}

// Credential is an encrypted secret blob of a connection.
type Credential struct {
	KeyID      string
	Ciphertext []byte
	UpdatedAt  time.Time
}

// SaveCredential stores (replaces) a connection's encrypted credentials.
func (t *Tx) SaveCredential(ctx context.Context, connectionID string, c Credential) error {
	_, err := t.s.exec(ctx, t.tx, `INSERT INTO credentials (connection_id, key_id, ciphertext, updated_at) VALUES (?,?,?,?)
		ON CONFLICT (connection_id) DO UPDATE SET key_id=excluded.key_id, ciphertext=excluded.ciphertext, updated_at=excluded.updated_at`,
		connectionID, c.KeyID, c.Ciphertext, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("save credentials of %s: %w", connectionID, err)
	}
	return nil
}

// DeleteCredential removes a connection's credentials for good.
func (t *Tx) DeleteCredential(ctx context.Context, connectionID string) error {
	if _, err := t.s.exec(ctx, t.tx, `DELETE FROM credentials WHERE connection_id=?`, connectionID); err != nil {
		return fmt.Errorf("delete credentials of %s: %w", connectionID, err)
	}
	return nil
}

// Credential returns a connection's encrypted credentials.
func (s *Store) Credential(ctx context.Context, connectionID string) (Credential, error) {
	return s.credential(ctx, s.read, connectionID)
}

// Credential reads the credentials inside the transaction (re-read after taking the lock).
func (t *Tx) Credential(ctx context.Context, connectionID string) (Credential, error) {
	return t.s.credential(ctx, t.tx, connectionID)
}

func (s *Store) credential(ctx context.Context, q querier, connectionID string) (Credential, error) {
	var c Credential
	err := s.queryRow(ctx, q, `SELECT key_id, ciphertext, updated_at FROM credentials WHERE connection_id=?`, connectionID).
		Scan(&c.KeyID, &c.Ciphertext, &c.UpdatedAt)
	if err != nil {
		return Credential{}, notFound(err, "credentials of "+connectionID)
	}
	return c, nil
}

// CredentialIDs lists the connections that hold credentials (key rotation).
func (s *Store) CredentialIDs(ctx context.Context) ([]string, error) {
	rows, err := s.query(ctx, s.read, `SELECT connection_id FROM credentials ORDER BY connection_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
