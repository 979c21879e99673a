package store

import (
	"context"
	"fmt"
	"time"
)

// Usage is the request quota a provider last reported for a connection.
type Usage struct {
	ConnectionID string
	Used         int64
	Limit        int64
	Period       string // e.g. "24h"
	ObservedAt   time.Time
}

// SaveUsage records the quota a provider just reported, replacing the last report.
func (t *Tx) SaveUsage(ctx context.Context, u Usage) error {
	_, err := t.s.exec(ctx, t.tx, `INSERT INTO connection_usage (connection_id, used, quota, period, observed_at) VALUES (?,?,?,?,?)
		ON CONFLICT (connection_id) DO UPDATE SET used=excluded.used, quota=excluded.quota, period=excluded.period, observed_at=excluded.observed_at`,
		u.ConnectionID, u.Used, u.Limit, u.Period, u.ObservedAt.UTC())
	if err != nil {
		return fmt.Errorf("save usage of %s: %w", u.ConnectionID, err)
	}
	return nil
}

// Usage returns the last quota report of a connection; ErrNotFound when the
// provider never reported one.
func (s *Store) Usage(ctx context.Context, connID string) (Usage, error) {
	u := Usage{ConnectionID: connID}
	err := s.queryRow(ctx, s.read, `SELECT used, quota, period, observed_at FROM connection_usage WHERE connection_id=?`, connID).
		Scan(&u.Used, &u.Limit, &u.Period, &u.ObservedAt)
	if err != nil {
		return Usage{}, notFound(err, "usage of connection "+connID)
	}
	u.ObservedAt = u.ObservedAt.UTC()
	return u, nil
}
