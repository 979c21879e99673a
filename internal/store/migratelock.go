package store

import (
	"context"
	"fmt"

	"github.com/pressly/goose/v3/lock"
)

// WithMigrationLock runs fn while holding the migration lock: on PostgreSQL,
// goose's session advisory lock on a connection set aside for it, so that
// processes starting at once migrate one after the other (the others then
// find nothing left to do) instead of racing. Patchbay's migrations and
// River's both run under it. On SQLite one process owns the file, so fn
// simply runs.
func (s *Store) WithMigrationLock(ctx context.Context, fn func(ctx context.Context) error) error {
	if s.dialect != Postgres {
		return fn(ctx)
	}
	// Try every second for up to five minutes: migrations take a moment,
	// and goose's default 5 s period would hold up every process that
	// comes second that long.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer conn.Close()
	if err := locker.SessionLock(ctx, conn); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer func() { _ = locker.SessionUnlock(context.WithoutCancel(ctx), conn) }()
	return fn(ctx)
}
