package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Lease is a run's ownership of a sync for a while. Token is its fencing
// token: every lease taken on a sync has a larger one than the last, and a
// run writes only while the sync's token is still its own (CheckLease, in
// the transaction of the write). Unlike a session lock, a lease does not
// vanish with a dropped connection while its holder keeps writing: it ends
// by expiry or release, and a holder that lost it finds out at its next write.
type Lease struct {
	SyncID string
	Token  int64
	Holder string
}

// ErrLeaseHeld is returned by AcquireLease when another run holds the sync.
var ErrLeaseHeld = errors.New("the sync is leased by another run")

// ErrLeaseLost is returned when a run's lease was taken over (it expired and
// another run took the sync): the run must stop without writing.
var ErrLeaseLost = errors.New("the run's lease on the sync was taken over by another run")

// AcquireLease takes the sync for holder until now+ttl, unless another
// holder's lease is still live.
func (s *Store) AcquireLease(ctx context.Context, syncID, holder string, now time.Time, ttl time.Duration) (*Lease, error) {
	l := &Lease{SyncID: syncID, Holder: holder}
	err := s.queryRow(ctx, s.write, `UPDATE syncs SET lease_token=lease_token+1, lease_holder=?, lease_expires_at=?
		WHERE id=? AND (lease_holder='' OR lease_expires_at IS NULL OR lease_expires_at<=?) RETURNING lease_token`,
		holder, now.Add(ttl).UTC(), syncID, now.UTC()).Scan(&l.Token)
	if err == nil {
		return l, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("lease sync %s: %w", syncID, err)
	}
	if _, err := s.SyncByID(ctx, syncID); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("lease sync %s: %w", syncID, ErrLeaseHeld)
}

// RenewLease extends a live lease to now+ttl, or returns ErrLeaseLost.
func (s *Store) RenewLease(ctx context.Context, l *Lease, now time.Time, ttl time.Duration) error {
	return s.renew(ctx, s.write, l, now, ttl)
}

// CheckLease is the fencing check of a write: it extends the lease and fails
// with ErrLeaseLost when the token is no longer the sync's. Call it first in
// the transaction of the write: it locks the sync's row until commit, so a
// run taking the sync over waits for this transaction and then sees its
// writes, and this transaction never lands after a takeover.
func (t *Tx) CheckLease(ctx context.Context, l *Lease, now time.Time, ttl time.Duration) error {
	return t.s.renew(ctx, t.tx, l, now, ttl)
}

func (s *Store) renew(ctx context.Context, q querier, l *Lease, now time.Time, ttl time.Duration) error {
	res, err := s.exec(ctx, q, `UPDATE syncs SET lease_expires_at=? WHERE id=? AND lease_token=? AND lease_holder=?`,
		now.Add(ttl).UTC(), l.SyncID, l.Token, l.Holder)
	if err != nil {
		return fmt.Errorf("renew lease of %s: %w", l.SyncID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sync %s: %w", l.SyncID, ErrLeaseLost)
	}
	return nil
}

// FinishLease ends a run: it sets the sync's next run time and gives the
// lease up, if it is still the run's (a run whose lease was taken over
// leaves the schedule to the run that took it).
func (s *Store) FinishLease(ctx context.Context, l *Lease, next time.Time) error {
	res, err := s.exec(ctx, s.write, `UPDATE syncs SET next_run_at=?, lease_holder='', lease_expires_at=NULL WHERE id=? AND lease_token=? AND lease_holder=?`,
		nullTime(next), l.SyncID, l.Token, l.Holder)
	if err != nil {
		return fmt.Errorf("release lease of %s: %w", l.SyncID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sync %s: %w", l.SyncID, ErrLeaseLost)
	}
	return nil
}

// ReleaseLease gives a lease up without touching the schedule (a run that
// did not start). A lease already taken over is left alone.
func (s *Store) ReleaseLease(ctx context.Context, l *Lease) error {
	if _, err := s.exec(ctx, s.write, `UPDATE syncs SET lease_holder='', lease_expires_at=NULL WHERE id=? AND lease_token=? AND lease_holder=?`,
		l.SyncID, l.Token, l.Holder); err != nil {
		return fmt.Errorf("release lease of %s: %w", l.SyncID, err)
	}
	return nil
}

// ExpiredLease is a sync whose run stopped renewing its lease: its process
// died or was cut off from the database mid-run.
type ExpiredLease struct {
	SyncID string
	Token  int64
	Holder string
}

// ExpiredLeases returns the leases that ran out at now without being given
// up: runs to resume from their last committed page.
func (s *Store) ExpiredLeases(ctx context.Context, now time.Time) ([]ExpiredLease, error) {
	rows, err := s.query(ctx, s.read, `SELECT id, lease_token, lease_holder FROM syncs
		WHERE lease_holder<>'' AND lease_expires_at<=? AND NOT paused ORDER BY lease_expires_at, id`, now.UTC())
	if err != nil {
		return nil, fmt.Errorf("expired leases: %w", err)
	}
	defer rows.Close()
	var out []ExpiredLease
	for rows.Next() {
		var e ExpiredLease
		if err := rows.Scan(&e.SyncID, &e.Token, &e.Holder); err != nil {
			return nil, fmt.Errorf("expired leases: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Execer runs one statement in a transaction that is not the store's own
// (the job engine's, which inserts a job in the same transaction) and says
// how many rows it changed. Queries reach it in the database's own
// placeholder syntax.
type Execer interface {
	Exec(ctx context.Context, query string, args ...any) (int64, error)
}

// Exec lets a store transaction serve as an Execer.
func (t *Tx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := t.s.exec(ctx, t.tx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ClaimDueSync claims a scheduled run of a sync that is due at now, in ex's
// transaction (the one that inserts the run's job): it moves the sync's
// next run time to until, and reports false when the sync is no longer due
// (a run finished meanwhile and scheduled the next one). The run sets the
// real next time when it ends; until only matters when the job is lost.
func (s *Store) ClaimDueSync(ctx context.Context, ex Execer, syncID string, now, until time.Time) (bool, error) {
	n, err := ex.Exec(ctx, s.rebind(`UPDATE syncs SET next_run_at=? WHERE id=? AND NOT paused AND next_run_at IS NOT NULL AND next_run_at<=?`),
		until.UTC(), syncID, now.UTC())
	if err != nil {
		return false, fmt.Errorf("claim due run of %s: %w", syncID, err)
	}
	return n > 0, nil
}
