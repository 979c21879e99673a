package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestSQLiteFilesAreOwnerOnly: the database file and its WAL and shared-memory
// files are created readable by their owner only, whatever the umask.
func TestSQLiteFilesAreOwnerOnly(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", "patchbay.db")
	s, err := open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s: mode %o, want 600", filepath.Base(p), m)
		}
	}
}
