package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestUsageRoundTrip(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, c := seedConnection(t, s)
		if _, err := s.Usage(ctx, c.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("no report yet: %v", err)
		}
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		for _, used := range []int64{18, 25} {
			err := s.InTx(ctx, func(tx *Tx) error {
				return tx.SaveUsage(ctx, Usage{ConnectionID: c.ID, Used: used, Limit: 100000, Period: "24h", ObservedAt: at})
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		u, err := s.Usage(ctx, c.ID)
		if err != nil || u.Used != 25 || u.Limit != 100000 || u.Period != "24h" || !u.ObservedAt.Equal(at) {
			t.Fatalf("usage = %+v, %v", u, err)
		}
		// Usage goes with its connection.
		if err := s.InTx(ctx, func(tx *Tx) error { return tx.DeleteConnection(ctx, c.ID) }); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Usage(ctx, c.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("usage after the connection was deleted: %v", err)
		}
	})
}
