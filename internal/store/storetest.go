package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDatabaseEnv names the environment variable that points tests at a
// PostgreSQL server (make test sets it after starting one).
const TestDatabaseEnv = "PATCHBAY_TEST_DATABASE_URL"

// OpenTest opens a fresh store for a test: SQLite in a temp folder, or, for
// dialect Postgres, a new schema on the server named by PATCHBAY_TEST_DATABASE_URL
// (the test is skipped with instructions when it is unset).
func OpenTest(t testing.TB, dialect string) *Store {
	t.Helper()
	s, err := Open(context.Background(), TestDSN(t, dialect))
	if err != nil {
		t.Fatalf("open %s store: %v", dialect, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestDSN returns what a fresh, empty test database is opened with: a SQLite
// file path in a temp folder, or a postgres:// URL whose search_path names a
// new schema (dropped at cleanup). For Postgres the test is skipped with
// instructions when PATCHBAY_TEST_DATABASE_URL is unset. Tests that start
// several processes on one database pass the same DSN to each.
func TestDSN(t testing.TB, dialect string) string {
	t.Helper()
	ctx := context.Background()
	switch dialect {
	case SQLite:
		return filepath.Join(t.TempDir(), "patchbay.db")
	case Postgres:
		base := os.Getenv(TestDatabaseEnv)
		if base == "" {
			t.Skipf("PostgreSQL tests need %s; run `make test` (it starts a server) or set it to a postgres:// URL", TestDatabaseEnv)
		}
		schema := "t_" + strings.ToLower(strings.TrimPrefix(NewID("s"), "s_"))
		admin, err := sql.Open("pgx", base)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
			t.Fatalf("create schema: %v", err)
		}
		t.Cleanup(func() {
			_, _ = admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			admin.Close()
		})
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	default:
		panic(fmt.Sprintf("unknown dialect %q", dialect))
	}
}

// Path returns the SQLite file path ("" on PostgreSQL).
func (s *Store) Path() string { return s.path }

// DumpText returns every row of every table of the current schema as text
// (PostgreSQL only), so tests can check that no secret is stored in clear.
func (s *Store) DumpText(ctx context.Context) ([]byte, error) {
	if s.dialect != Postgres {
		return nil, fmt.Errorf("dump: PostgreSQL only; read the SQLite file instead")
	}
	tables, err := s.ids(ctx, "list tables", `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`)
	if err != nil {
		return nil, err
	}
	var out []byte
	for _, tb := range tables {
		rows, err := s.ids(ctx, "dump "+tb, `SELECT row_to_json(x)::text FROM `+pgQuote(tb)+` x`)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out = append(out, r...)
			out = append(out, '\n')
		}
	}
	return out, nil
}

func pgQuote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// Exec runs a statement written with ? placeholders outside any store
// method: upgrade tests use it to write rows shaped like an earlier release's.
func (s *Store) Exec(ctx context.Context, query string, args ...any) error {
	_, err := s.exec(ctx, s.write, query, args...)
	return err
}
