package store

import (
	"context"
	"fmt"
	"time"
)

// InterruptOrphanRuns records every run still marked running as interrupted
// with msg, and returns how many it changed. A process that dies during a
// run (SIGKILL, power loss) leaves its record "running" for ever; call this at
// start-up only where no other process can be running syncs on the store
// (SQLite, which one process serves).
func (s *Store) InterruptOrphanRuns(ctx context.Context, msg string, now time.Time) (int, error) {
	res, err := s.exec(ctx, s.write, `UPDATE sync_runs SET status='interrupted', error_class='interrupted', error=?, finished_at=?
		WHERE status='running'`, msg, now.UTC())
	if err != nil {
		return 0, fmt.Errorf("interrupt orphan runs: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// InterruptOrphanRunsOf does the same for one sync. Call it while holding the
// sync's run lock (TryHold "sync:<id>"): no live process is running that sync
// then, so a record still marked running was left by one that died (a worker
// killed on PostgreSQL, where start-up cannot tell the dead from the live).
func (s *Store) InterruptOrphanRunsOf(ctx context.Context, syncID, msg string, now time.Time) (int, error) {
	res, err := s.exec(ctx, s.write, `UPDATE sync_runs SET status='interrupted', error_class='interrupted', error=?, finished_at=?
		WHERE status='running' AND sync_id=?`, msg, now.UTC(), syncID)
	if err != nil {
		return 0, fmt.Errorf("interrupt orphan runs of %s: %w", syncID, err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// ReleaseOrphanLeases ends every sync lease, keeping the fencing tokens, and
// returns how many it ended. Like InterruptOrphanRuns, call it at start-up
// only where no other process can hold a lease (SQLite): a lease left by a
// killed process would otherwise refuse "Sync now" until it expired.
func (s *Store) ReleaseOrphanLeases(ctx context.Context) (int, error) {
	res, err := s.exec(ctx, s.write, `UPDATE syncs SET lease_holder='', lease_expires_at=NULL WHERE lease_holder<>''`)
	if err != nil {
		return 0, fmt.Errorf("release orphan leases: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
