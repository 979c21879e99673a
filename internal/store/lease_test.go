package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A lease excludes a second run while live; once it expired and another run
// took the sync, the first run's writes are refused (fencing) and its
// release does not touch the new owner's lease. Two runs' rows of one record
// are one row.
func TestLeaseFencesAStaleWriterAndRowsAreKeyedByRecord(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ws, c := seedConnection(t, s)
		tb := &Table{WorkspaceID: ws.ID, Name: "Leads", Columns: []Column{{"email", "text"}}}
		y := &Sync{WorkspaceID: ws.ID, ConnectionID: c.ID, Direction: "inbound", Object: "contacts", Schedule: "manual"}
		if err := s.InTx(ctx, func(tx *Tx) error {
			if err := tx.CreateTable(ctx, tb); err != nil {
				return err
			}
			y.TableID = tb.ID
			return tx.CreateSync(ctx, y)
		}); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		a, err := s.AcquireLease(ctx, y.ID, "a", now, 15*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AcquireLease(ctx, y.ID, "b", now.Add(time.Second), 15*time.Second); !errors.Is(err, ErrLeaseHeld) {
			t.Fatalf("second lease while the first is live: %v, want ErrLeaseHeld", err)
		}
		later := now.Add(16 * time.Second)
		if exp, err := s.ExpiredLeases(ctx, later); err != nil || len(exp) != 1 || exp[0].Token != a.Token {
			t.Fatalf("expired leases %+v, %v", exp, err)
		}
		b, err := s.AcquireLease(ctx, y.ID, "b", later, 15*time.Second)
		if err != nil || b.Token <= a.Token {
			t.Fatalf("takeover: %+v, %v", b, err)
		}
		write := func(l *Lease, values map[string]any) (string, error) {
			r := &Row{TableID: tb.ID, Values: values}
			err := s.InTx(ctx, func(tx *Tx) error {
				if err := tx.CheckLease(ctx, l, later, 15*time.Second); err != nil {
					return err
				}
				return tx.UpsertOriginRow(ctx, r, c.ID, "contacts", "42")
			})
			return r.ID, err
		}
		if _, err := write(a, map[string]any{"email": "stale@x.com"}); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("stale writer: %v, want ErrLeaseLost", err)
		}
		first, err := write(b, map[string]any{"email": "one@x.com"})
		if err != nil {
			t.Fatal(err)
		}
		second, err := write(b, map[string]any{"email": "two@x.com"})
		if err != nil || second != first {
			t.Fatalf("second write of record 42: row %s (%v), want the first's %s", second, err, first)
		}
		rows, err := s.ListRows(ctx, tb.ID, "", 10, true)
		if err != nil || len(rows) != 1 || rows[0].Values["email"] != "two@x.com" {
			t.Fatalf("rows %v, %v", rows, err)
		}
		if err := s.FinishLease(ctx, a, time.Time{}); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("stale release: %v, want ErrLeaseLost", err)
		}
		if err := s.FinishLease(ctx, b, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if exp, err := s.ExpiredLeases(ctx, later.Add(time.Hour)); err != nil || len(exp) != 0 {
			t.Fatalf("a released lease is not expired work: %+v, %v", exp, err)
		}
	})
}
