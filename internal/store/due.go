package store

import (
	"context"
	"fmt"
	"time"
)

// Queries for the scheduler: which background work is due. They return ids
// only; the job that does the work reads the rest when it runs.

// ConnectionsExpiringBefore returns the connected connections whose access
// token expires before t and whose refresh is not backing off at now.
func (s *Store) ConnectionsExpiringBefore(ctx context.Context, t, now time.Time) ([]string, error) {
	return s.ids(ctx, "expiring connections", `SELECT id FROM connections WHERE status='connected' AND expires_at IS NOT NULL AND expires_at < ?
		AND (refresh_blocked_until IS NULL OR refresh_blocked_until <= ?) ORDER BY expires_at, id`, t.UTC(), now.UTC())
}

// ConnectionsCheckedBefore returns the connections with credentials (any
// status but disconnected and not_connected) last probed before t, or never.
func (s *Store) ConnectionsCheckedBefore(ctx context.Context, t time.Time) ([]string, error) {
	return s.ids(ctx, "connections to probe", `SELECT id FROM connections WHERE status NOT IN ('disconnected', 'not_connected')
		AND (last_checked_at IS NULL OR last_checked_at < ?) ORDER BY id`, t.UTC())
}

func (s *Store) ids(ctx context.Context, what, q string, args ...any) ([]string, error) {
	rows, err := s.query(ctx, s.read, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
