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
