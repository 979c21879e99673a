package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// RecordSyncFailure remembers that a sync of a connection met an auth-class
// failure (reason is the connection reason it points to).
func (t *Tx) RecordSyncFailure(ctx context.Context, connectionID, syncID, reason string, at time.Time) error {
	_, err := t.s.exec(ctx, t.tx, `INSERT INTO sync_failures (id, connection_id, sync_id, reason, failed_at) VALUES (?,?,?,?,?)`,
		NewID("sfl"), connectionID, syncID, reason, at.UTC())
	if err != nil {
		return fmt.Errorf("record sync failure of %s: %w", syncID, err)
	}
	// Old entries say nothing any more; keep the table small.
	if _, err := t.s.exec(ctx, t.tx, `DELETE FROM sync_failures WHERE connection_id=? AND failed_at < ?`,
		connectionID, at.Add(-7*24*time.Hour).UTC()); err != nil {
		return fmt.Errorf("prune sync failures of %s: %w", connectionID, err)
	}
	return nil
}

// FailingSyncs returns the distinct syncs of a connection that recorded an
// auth-class failure at or after since.
func (t *Tx) FailingSyncs(ctx context.Context, connectionID string, since time.Time) ([]string, error) {
	rows, err := t.s.query(ctx, t.tx, `SELECT DISTINCT sync_id FROM sync_failures WHERE connection_id=? AND failed_at >= ? ORDER BY sync_id`,
		connectionID, since.UTC())
	if err != nil {
		return nil, fmt.Errorf("failing syncs of %s: %w", connectionID, err)
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

// ListSyncs returns the syncs of a connection inside the transaction.
func (t *Tx) ListSyncs(ctx context.Context, connectionID string) ([]*Sync, error) {
	rows, err := t.s.query(ctx, t.tx, `SELECT `+syncColumns+` FROM syncs WHERE connection_id=? ORDER BY id`, connectionID)
	if err != nil {
		return nil, fmt.Errorf("list syncs: %w", err)
	}
	defer rows.Close()
	var out []*Sync
	for rows.Next() {
		y, err := scanSync(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, y)
	}
	return out, rows.Err()
}

// NotificationRoute says who hears about which connection.
type NotificationRoute struct {
	ID           string
	WorkspaceID  string
	ConnectionID string // "" for every connection of the workspace
	Channel      string // email, webhook
	Target       string // an e-mail address or a webhook URL
	Secret       []byte // webhook signing secret, sealed by the vault
	Events       []string
	CreatedAt    time.Time
}

const routeColumns = `id, workspace_id, connection_id, channel, target, secret, events, created_at`

// CreateRoute inserts a notification route.
func (s *Store) CreateRoute(ctx context.Context, r *NotificationRoute) error {
	if r.ID == "" {
		r.ID = NewID("nrt")
	}
	r.CreatedAt = time.Now().UTC()
	_, err := s.exec(ctx, s.write, `INSERT INTO notification_routes (`+routeColumns+`) VALUES (?,?,?,?,?,?,?,?)`,
		r.ID, r.WorkspaceID, r.ConnectionID, r.Channel, r.Target, r.Secret, jsonText(emptyIfNil(r.Events)), r.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert notification route: %w", err)
	}
	return nil
}

// ListRoutes returns a workspace's notification routes, oldest first.
func (s *Store) ListRoutes(ctx context.Context, workspaceID string) ([]*NotificationRoute, error) {
	rows, err := s.query(ctx, s.read, `SELECT `+routeColumns+` FROM notification_routes WHERE workspace_id=? ORDER BY id`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("list notification routes: %w", err)
	}
	defer rows.Close()
	var out []*NotificationRoute
	for rows.Next() {
		var r NotificationRoute
		var events string
		if err := rows.Scan(&r.ID, &r.WorkspaceID, &r.ConnectionID, &r.Channel, &r.Target, &r.Secret, &events, &r.CreatedAt); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(events), &r.Events); err != nil {
			return nil, fmt.Errorf("route %s events: %w", r.ID, err)
		}
		r.CreatedAt = r.CreatedAt.UTC()
		out = append(out, &r)
	}
	return out, rows.Err()
}

// DeleteRoute removes a workspace's route; ErrNotFound when it is not there.
func (s *Store) DeleteRoute(ctx context.Context, workspaceID, id string) error {
	res, err := s.exec(ctx, s.write, `DELETE FROM notification_routes WHERE id=? AND workspace_id=?`, id, workspaceID)
	if err != nil {
		return fmt.Errorf("delete notification route %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("notification route %s: %w", id, ErrNotFound)
	}
	return nil
}

// Episode is one stretch of trouble that was notified once.
type Episode struct {
	ID           string
	WorkspaceID  string
	ConnectionID string
	Subject      string // a sync id, a digest period, or ""
	Kind         string
	Detail       string
	OpenedAt     time.Time
	ClosedAt     time.Time
}

// OpenEpisode opens e unless an episode of the same kind and subject is
// already open; it reports whether this call opened it (and must alert).
func (t *Tx) OpenEpisode(ctx context.Context, e *Episode) (bool, error) {
	if e.ID == "" {
		e.ID = NewID("eps")
	}
	res, err := t.s.exec(ctx, t.tx, `INSERT INTO notification_episodes (id, workspace_id, connection_id, subject, kind, detail, opened_at)
		VALUES (?,?,?,?,?,?,?) ON CONFLICT (workspace_id, connection_id, kind, subject) WHERE closed_at IS NULL DO NOTHING`,
		e.ID, e.WorkspaceID, e.ConnectionID, e.Subject, e.Kind, e.Detail, e.OpenedAt.UTC())
	if err != nil {
		return false, fmt.Errorf("open episode %s: %w", e.Kind, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// CloseEpisode closes the open episode of a kind and subject and returns it,
// or nil when none was open.
func (t *Tx) CloseEpisode(ctx context.Context, workspaceID, connectionID, kind, subject string, at time.Time) (*Episode, error) {
	var e Episode
	var closed sql.NullTime
	err := t.s.queryRow(ctx, t.tx, `SELECT id, workspace_id, connection_id, subject, kind, detail, opened_at, closed_at FROM notification_episodes
		WHERE workspace_id=? AND connection_id=? AND kind=? AND subject=? AND closed_at IS NULL`, workspaceID, connectionID, kind, subject).
		Scan(&e.ID, &e.WorkspaceID, &e.ConnectionID, &e.Subject, &e.Kind, &e.Detail, &e.OpenedAt, &closed)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find open episode %s: %w", kind, err)
	}
	if _, err := t.s.exec(ctx, t.tx, `UPDATE notification_episodes SET closed_at=? WHERE id=?`, at.UTC(), e.ID); err != nil {
		return nil, fmt.Errorf("close episode %s: %w", e.ID, err)
	}
	e.OpenedAt, e.ClosedAt = e.OpenedAt.UTC(), at.UTC()
	return &e, nil
}

// OpenEpisodes lists the open episodes of a connection.
func (s *Store) OpenEpisodes(ctx context.Context, connectionID string) ([]*Episode, error) {
	rows, err := s.query(ctx, s.read, `SELECT id, workspace_id, connection_id, subject, kind, detail, opened_at FROM notification_episodes
		WHERE connection_id=? AND closed_at IS NULL ORDER BY id`, connectionID)
	if err != nil {
		return nil, fmt.Errorf("open episodes of %s: %w", connectionID, err)
	}
	defer rows.Close()
	var out []*Episode
	for rows.Next() {
		var e Episode
		if err := rows.Scan(&e.ID, &e.WorkspaceID, &e.ConnectionID, &e.Subject, &e.Kind, &e.Detail, &e.OpenedAt); err != nil {
			return nil, err
		}
		e.OpenedAt = e.OpenedAt.UTC()
		out = append(out, &e)
	}
	return out, rows.Err()
}

// Workspaces lists every workspace (digests).
func (s *Store) Workspaces(ctx context.Context) ([]*Workspace, error) {
	rows, err := s.query(ctx, s.read, `SELECT id, name, plan, created_at FROM workspaces ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list workspaces: %w", err)
	}
	defer rows.Close()
	var out []*Workspace
	for rows.Next() {
		var w Workspace
		if err := rows.Scan(&w.ID, &w.Name, &w.Plan, &w.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, &w)
	}
	return out, rows.Err()
}
