package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// RateLog keeps request budgets' sliding logs in PostgreSQL so that every
// process spending one provider account shares one budget (it implements
// transport.SharedLog). A reservation locks the window's row, drops what left
// the window, counts what is left and logs the new request, all in one
// transaction on the database's clock, so processes on several machines
// agree on time.
type RateLog struct{ s *Store }

// RateLog returns the shared request log, or nil on SQLite (one process: the
// budgets stay in memory).
func (s *Store) RateLog() *RateLog {
	if s.dialect != Postgres {
		return nil
	}
	return &RateLog{s: s}
}

// rateStale is how long a request may stay unanswered before the log counts
// it answered: the transport's client gives up on a request after 2 minutes,
// so an older entry is a process that died mid-request.
const rateStale = 2 * time.Minute

// Reserve logs a request about to be sent under key when fewer than limit
// were answered within the last per or are in flight; otherwise it returns
// how long until the oldest leaves the window.
func (l *RateLog) Reserve(ctx context.Context, key string, limit int, per time.Duration) (id int64, wait time.Duration, err error) {
	err = l.s.InTx(ctx, func(tx *Tx) error {
		var now time.Time
		lock := `SELECT clock_timestamp() FROM rate_windows WHERE key=? FOR NO KEY UPDATE`
		err := l.s.queryRow(ctx, tx.tx, lock, key).Scan(&now)
		if errors.Is(err, sql.ErrNoRows) {
			if _, err := l.s.exec(ctx, tx.tx, `INSERT INTO rate_windows (key) VALUES (?) ON CONFLICT (key) DO NOTHING`, key); err != nil {
				return err
			}
			err = l.s.queryRow(ctx, tx.tx, lock, key).Scan(&now)
		}
		if err != nil {
			return err
		}
		cut := now.Add(-per)
		if _, err := l.s.exec(ctx, tx.tx, `DELETE FROM rate_log WHERE key=? AND COALESCE(done_at, sent_at + ?::float8 * interval '1 microsecond') <= ?`,
			key, rateStale.Microseconds(), cut); err != nil {
			return err
		}
		// An entry in flight is answered now at the earliest, so it leaves
		// the window no sooner than a full window from now.
		var n int
		var oldest time.Time
		if err := l.s.queryRow(ctx, tx.tx, `SELECT count(*), COALESCE(min(COALESCE(done_at, ?)), ?) FROM rate_log WHERE key=?`, now, now, key).
			Scan(&n, &oldest); err != nil {
			return err
		}
		if n >= limit {
			wait = max(oldest.Add(per).Sub(now), time.Microsecond)
			return nil
		}
		return l.s.queryRow(ctx, tx.tx, `INSERT INTO rate_log (key, sent_at) VALUES (?, ?) RETURNING id`, key, now).Scan(&id)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("reserve a request of %s: %w", key, err)
	}
	return id, wait, nil
}

// Answered marks request id answered now and logs extra requests answered
// now that other clients of the account sent.
func (l *RateLog) Answered(ctx context.Context, key string, id int64, extra int) error {
	if _, err := l.s.exec(ctx, l.s.write, `UPDATE rate_log SET done_at=clock_timestamp() WHERE key=? AND id=?`, key, id); err != nil {
		return fmt.Errorf("log a request of %s answered: %w", key, err)
	}
	if extra > 0 {
		if _, err := l.s.exec(ctx, l.s.write, `INSERT INTO rate_log (key, sent_at, done_at)
			SELECT ?, clock_timestamp(), clock_timestamp() FROM generate_series(1, ?)`, key, extra); err != nil {
			return fmt.Errorf("log other clients' requests of %s: %w", key, err)
		}
	}
	return nil
}

// Count is how many requests the log holds for key within the last per.
func (l *RateLog) Count(ctx context.Context, key string, per time.Duration) (int, error) {
	var n int
	err := l.s.queryRow(ctx, l.s.read, `SELECT count(*) FROM rate_log WHERE key=? AND COALESCE(done_at, clock_timestamp()) > clock_timestamp() - ?::float8 * interval '1 microsecond'`,
		key, per.Microseconds()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count the requests of %s: %w", key, err)
	}
	return n, nil
}
