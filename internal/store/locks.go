package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"
)

// lockNamespace keeps Patchbay's advisory locks apart from River's, which use
// the single-bigint form of pg_advisory_xact_lock (a different lock space
// from the two-int4 form used here).
const lockNamespace = "patchbay"

// LockKey takes a lock named key that is held until the transaction ends,
// across every process sharing the database. On PostgreSQL it is a
// transaction-level advisory lock; on SQLite it is a no-op, because a write
// transaction already holds the database's one write lock.
func (t *Tx) LockKey(ctx context.Context, key string) error {
	if t.s.dialect != Postgres {
		return nil
	}
	if _, err := t.tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))`, lockNamespace, key); err != nil {
		return fmt.Errorf("lock %q: %w", key, err)
	}
	return nil
}

// WithLock runs fn while holding the lock named key across every process
// sharing the database, for work that must not run twice at once but must
// not sit inside a write transaction either (a token refresh calls the
// provider, and on SQLite a write transaction would block every other
// writer for that long). fn uses the store as usual.
//
// On PostgreSQL the lock lives in a transaction of its own that holds one
// pooled connection; the number of locks held at once by this process is
// bounded below the pool size so that fn always finds a connection. On
// SQLite, one process owns the file, and callers already serialise within
// the process, so fn simply runs.
func (s *Store) WithLock(ctx context.Context, key string, fn func(ctx context.Context) error) error {
	if s.dialect != Postgres {
		return fn(ctx)
	}
	select {
	case s.lockSlots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("lock %q: %w", key, ctx.Err())
	}
	defer func() { <-s.lockSlots }()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("lock %q: begin: %w", key, err)
	}
	defer func() { _ = tx.Rollback() }() // releases the lock; nothing was written in this transaction
	if err := (&Tx{s: s, tx: tx}).LockKey(ctx, key); err != nil {
		return err
	}
	return fn(ctx)
}

// ErrLocked is returned by TryHold when another holder has the lock.
var ErrLocked = errors.New("held by another process")

// TryHold takes the lock named key without waiting and keeps it until
// release is called, across every process sharing the database: for work
// that runs long and must not run twice at once (a sync run), where
// WithLock's transaction would stay open for the whole run. It returns
// ErrLocked when another holder has the lock.
//
// On PostgreSQL it is a session-level advisory lock on a connection set
// aside for it, so a process that dies releases it with its connection. The
// connections held this way are bounded (holdSlots), and the pool is that
// much larger, so that the holders' work always finds a connection. On
// SQLite one process owns the file and callers guard within the process, so
// it always succeeds.
func (s *Store) TryHold(ctx context.Context, key string) (release func(), err error) {
	if s.dialect != Postgres {
		return func() {}, nil
	}
	select {
	case s.holdSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("hold %q: %w", key, ctx.Err())
	}
	conn, err := s.write.Conn(ctx)
	if err != nil {
		<-s.holdSlots
		return nil, fmt.Errorf("hold %q: %w", key, err)
	}
	var got bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(hashtext($1), hashtext($2))`, lockNamespace, key).Scan(&got); err != nil || !got {
		conn.Close()
		<-s.holdSlots
		if err != nil {
			return nil, fmt.Errorf("hold %q: %w", key, err)
		}
		return nil, fmt.Errorf("hold %q: %w", key, ErrLocked)
	}
	return func() {
		defer func() { <-s.holdSlots }()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock(hashtext($1), hashtext($2))`, lockNamespace, key); err != nil {
			// The lock may still be held by this session: drop the
			// connection instead of handing it back to the pool.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}, nil
}
