package store

import (
	"context"
	"errors"
	"testing"
)

// TryHold excludes holders across processes (two stores on one PostgreSQL
// database stand for two processes) until released; on SQLite, where one
// process owns the file, it always succeeds.
func TestTryHoldAcrossProcesses(t *testing.T) {
	t.Parallel()
	for _, d := range []string{SQLite, Postgres} {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := TestDSN(t, d)
			var procs [2]*Store
			for i := range procs {
				s, err := Open(ctx, dsn)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				procs[i] = s
			}
			key := "sync:" + NewID("syn") // advisory locks span the database, not the test's schema
			release, err := procs[0].TryHold(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			_, err = procs[1].TryHold(ctx, key)
			if d == SQLite {
				if err != nil {
					t.Fatalf("SQLite hold: %v", err)
				}
				release()
				return
			}
			if !errors.Is(err, ErrLocked) {
				t.Fatalf("second holder: %v, want ErrLocked", err)
			}
			other, err := procs[1].TryHold(ctx, key+"-other")
			if err != nil {
				t.Fatalf("another key: %v", err)
			}
			other()
			release()
			again, err := procs[1].TryHold(ctx, key)
			if err != nil {
				t.Fatalf("after release: %v", err)
			}
			again()
		})
	}
}
