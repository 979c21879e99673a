// Package store is Patchbay's persistence: one Store over database/sql with
// two dialects, SQLite (the embedded default) and PostgreSQL (scale-out).
// Queries are written once with ? placeholders and rebound per dialect;
// migrations are embedded per dialect and applied with goose.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/oklog/ulid/v2"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

//go:embed migrations
var migrations embed.FS

// Dialects.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// ErrNotFound is returned when a row does not exist (or belongs to another workspace).
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a write would break a uniqueness rule.
var ErrConflict = errors.New("conflict")

// Store is the persistence of one Patchbay installation.
type Store struct {
	dialect string
	write   *sql.DB // SQLite: one connection, so writers queue instead of failing with SQLITE_BUSY
	read    *sql.DB
	path    string // SQLite file path
	// lockSlots bounds the advisory locks WithLock holds at once (PostgreSQL).
	lockSlots chan struct{}
	// holdSlots bounds the connections TryHold sets aside (PostgreSQL).
	holdSlots chan struct{}
	// wstmts and rstmts are the prepared statements of the write and read
	// pools (SQLite; nil on PostgreSQL).
	wstmts, rstmts *stmtCache
}

// maxHolds is how many TryHold locks a process keeps at once; a sync run
// holds one, so it bounds the runs of one process.
const maxHolds = 32

// Open connects to dsn: a postgres:// URL, or a SQLite file path. It applies
// pending migrations.
func Open(ctx context.Context, dsn string) (*Store, error) {
	s, err := open(dsn)
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func open(dsn string) (*Store, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		// 20 for the work, plus the connections TryHold sets aside.
		db.SetMaxOpenConns(20 + maxHolds)
		db.SetMaxIdleConns(20)
		return &Store{dialect: Postgres, write: db, read: db, lockSlots: make(chan struct{}, 8), holdSlots: make(chan struct{}, maxHolds)}, nil
	}
	if err := os.MkdirAll(filepath.Dir(dsn), 0o700); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}
	// The file holds sealed credentials and the row data: only its owner
	// reads it. SQLite gives its -wal and -shm files the database file's
	// mode, so creating it 0600 here covers them too (the driver would use
	// 0644).
	if f, err := os.OpenFile(dsn, os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, fmt.Errorf("create %s: %w", dsn, err)
	} else if err := f.Close(); err != nil {
		return nil, fmt.Errorf("create %s: %w", dsn, err)
	}
	// busy_timeout first so the other pragmas wait rather than fail;
	// secure_delete so deleted credentials are zeroed in the file, not left in free pages.
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(1)", "secure_delete(1)"} {
		q.Add("_pragma", p)
	}
	base := "file:" + dsn + "?" + q.Encode()
	w, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", dsn, err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", base)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", dsn, err)
	}
	r.SetMaxOpenConns(8)
	// Keep the readers open: a closed one loses its prepared statements
	// and its page cache.
	r.SetMaxIdleConns(8)
	return &Store{dialect: SQLite, write: w, read: r, path: dsn, wstmts: newStmtCache(w), rstmts: newStmtCache(r)}, nil
}

// Migrate applies pending migrations; running it again is a no-op.
func (s *Store) Migrate(ctx context.Context) error {
	p, err := s.migrator()
	if err != nil {
		return err
	}
	return s.WithMigrationLock(ctx, func(ctx context.Context) error {
		if _, err := p.Up(ctx); err != nil {
			return fmt.Errorf("migrate %s: %w", s.dialect, err)
		}
		return nil
	})
}

func (s *Store) migrator() (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations/"+s.dialect)
	if err != nil {
		return nil, err
	}
	d := goose.DialectSQLite3
	if s.dialect == Postgres {
		d = goose.DialectPostgres
	}
	p, err := goose.NewProvider(d, s.write, sub)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}

// OpenAt connects to dsn and applies migrations up to version only: a
// database as an earlier release left it, for upgrade tests.
func OpenAt(ctx context.Context, dsn string, version int64) (*Store, error) {
	s, err := open(dsn)
	if err != nil {
		return nil, err
	}
	p, err := s.migrator()
	if err == nil {
		_, err = p.UpTo(ctx, version)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate %s to %d: %w", s.dialect, version, err)
	}
	return s, nil
}

// Dialect returns SQLite or Postgres.
func (s *Store) Dialect() string { return s.dialect }

// Close releases the database.
func (s *Store) Close() error {
	for _, c := range []*stmtCache{s.wstmts, s.rstmts} {
		if c != nil {
			c.close()
		}
	}
	err := s.write.Close()
	if s.read != s.write {
		err = errors.Join(err, s.read.Close())
	}
	return err
}

// Ping checks that the database answers (readiness).
func (s *Store) Ping(ctx context.Context) error { return s.read.PingContext(ctx) }

// Checkpoint folds SQLite's write-ahead log into the main file and truncates
// it, so that deleted secrets do not linger in the WAL. No-op on PostgreSQL.
func (s *Store) Checkpoint(ctx context.Context) error {
	if s.dialect != SQLite {
		return nil
	}
	_, err := s.write.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

// NewID returns a sortable unique id with a prefix ("con_01J...").
func NewID(prefix string) string {
	return prefix + "_" + strings.ToLower(ulid.MustNew(ulid.Timestamp(time.Now()), rand.Reader).String())
}

// rebind turns ? placeholders into $n for PostgreSQL.
func (s *Store) rebind(q string) string {
	if s.dialect != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Tx is a write transaction; its methods are the Store's write methods.
type Tx struct {
	s  *Store
	tx *sql.Tx
}

// InTx runs fn in one write transaction: all of it lands or none of it.
func (s *Store) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(&Tx{s: s, tx: sqlTx}); err != nil {
		_ = sqlTx.Rollback()
		return full(err)
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", full(err))
	}
	if s.wstmts != nil {
		s.wstmts.preparePending(ctx)
	}
	return nil
}

func (s *Store) exec(ctx context.Context, q querier, query string, args ...any) (sql.Result, error) {
	query = s.rebind(query)
	if st := s.prepared(ctx, q, query); st != nil {
		res, err := st.ExecContext(ctx, args...)
		return res, full(err)
	}
	res, err := q.ExecContext(ctx, query, args...)
	return res, full(err)
}

func (s *Store) queryRow(ctx context.Context, q querier, query string, args ...any) *sql.Row {
	query = s.rebind(query)
	if st := s.prepared(ctx, q, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.QueryRowContext(ctx, query, args...)
}

func (s *Store) query(ctx context.Context, q querier, query string, args ...any) (*sql.Rows, error) {
	query = s.rebind(query)
	if st := s.prepared(ctx, q, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.QueryContext(ctx, query, args...)
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return err
}

// nullTime maps the zero time to NULL.
func nullTime(t time.Time) sql.NullTime {
	if t.IsZero() {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: t.UTC(), Valid: true}
}

func timeOf(n sql.NullTime) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return n.Time.UTC()
}
