package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Hook is a table's inbound webhook URL (the webhook bridge).
type Hook struct {
	ID          string
	WorkspaceID string
	TableID     string
	TokenHash   string // sha256 of the URL's token; the token itself is shown once
	Secret      []byte // sealed HMAC signing secret; nil when requests are not signed
	MatchColumn string // upsert by this column; "" always creates
	CreatedAt   time.Time
	LastUsedAt  time.Time
}

const hookColumns = `id, workspace_id, table_id, token_hash, secret, match_column, created_at, last_used_at`

func scanHook(sc interface{ Scan(...any) error }) (*Hook, error) {
	var h Hook
	var used sql.NullTime
	if err := sc.Scan(&h.ID, &h.WorkspaceID, &h.TableID, &h.TokenHash, &h.Secret, &h.MatchColumn, &h.CreatedAt, &used); err != nil {
		return nil, err
	}
	h.LastUsedAt = timeOf(used)
	return &h, nil
}

// CreateHook inserts a hook.
func (s *Store) CreateHook(ctx context.Context, h *Hook) error {
	if h.ID == "" {
		h.ID = NewID("hook")
	}
	h.CreatedAt = time.Now().UTC()
	_, err := s.exec(ctx, s.write, `INSERT INTO table_hooks (`+hookColumns+`) VALUES (?,?,?,?,?,?,?,?)`,
		h.ID, h.WorkspaceID, h.TableID, h.TokenHash, h.Secret, h.MatchColumn, h.CreatedAt, nullTime(h.LastUsedAt))
	if err != nil {
		return fmt.Errorf("insert hook: %w", err)
	}
	return nil
}

// HookByTokenHash finds the hook a request's token names.
func (s *Store) HookByTokenHash(ctx context.Context, hash string) (*Hook, error) {
	h, err := scanHook(s.queryRow(ctx, s.read, `SELECT `+hookColumns+` FROM table_hooks WHERE token_hash=?`, hash))
	if err != nil {
		return nil, notFound(err, "hook")
	}
	return h, nil
}

// TableHooks lists a table's hooks.
func (s *Store) TableHooks(ctx context.Context, tableID string) ([]*Hook, error) {
	rows, err := s.query(ctx, s.read, `SELECT `+hookColumns+` FROM table_hooks WHERE table_id=? ORDER BY id`, tableID)
	if err != nil {
		return nil, fmt.Errorf("list hooks: %w", err)
	}
	defer rows.Close()
	var out []*Hook
	for rows.Next() {
		h, err := scanHook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// DeleteHook removes a table's hook; its URL stops working.
func (s *Store) DeleteHook(ctx context.Context, tableID, id string) error {
	res, err := s.exec(ctx, s.write, `DELETE FROM table_hooks WHERE id=? AND table_id=?`, id, tableID)
	if err != nil {
		return fmt.Errorf("delete hook %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("hook %s: %w", id, ErrNotFound)
	}
	return nil
}

// TouchHook records a hook's use.
func (s *Store) TouchHook(ctx context.Context, id string, at time.Time) error {
	if _, err := s.exec(ctx, s.write, `UPDATE table_hooks SET last_used_at=? WHERE id=?`, at.UTC(), id); err != nil {
		return fmt.Errorf("touch hook %s: %w", id, err)
	}
	return nil
}

// ErrReplayed is returned by RememberDelivery for a delivery key a hook
// already accepted and still remembers.
var ErrReplayed = errors.New("this request was accepted before")

// RememberDelivery records that hook h accepts the delivery named key until
// expires, in the transaction that writes its rows (so a failed write can be
// sent again), or returns ErrReplayed when it already did. Keys past their
// expiry are forgotten first.
func (t *Tx) RememberDelivery(ctx context.Context, hookID, key string, now, expires time.Time) error {
	if _, err := t.s.exec(ctx, t.tx, `DELETE FROM bridge_deliveries WHERE hook_id=? AND expires_at<=?`, hookID, now.UTC()); err != nil {
		return fmt.Errorf("forget old deliveries of %s: %w", hookID, err)
	}
	res, err := t.s.exec(ctx, t.tx, `INSERT INTO bridge_deliveries (hook_id, key, expires_at) VALUES (?,?,?) ON CONFLICT (hook_id, key) DO NOTHING`,
		hookID, key, expires.UTC())
	if err != nil {
		return fmt.Errorf("remember delivery of %s: %w", hookID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("remember delivery of %s: %w", hookID, err)
	} else if n == 0 {
		return ErrReplayed
	}
	return nil
}
