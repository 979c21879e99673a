package store

import (
	"context"
	"testing"
	"time"
)

func TestInterruptOrphanRuns(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ws, c := seedConnection(t, s)
		tb := &Table{WorkspaceID: ws.ID, Name: "Leads", Columns: []Column{{"email", "text"}}}
		y := &Sync{WorkspaceID: ws.ID, ConnectionID: c.ID, Direction: "inbound", Object: "contacts", Schedule: "manual",
			Mapping: []Mapping{{Source: "email", Target: "email"}}}
		if err := s.InTx(ctx, func(tx *Tx) error {
			if err := tx.CreateTable(ctx, tb); err != nil {
				return err
			}
			y.TableID = tb.ID
			return tx.CreateSync(ctx, y)
		}); err != nil {
			t.Fatal(err)
		}
		start := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
		done := &Run{SyncID: y.ID, WorkspaceID: ws.ID, Trigger: "manual", Status: "succeeded", StartedAt: start, FinishedAt: start.Add(time.Second), Read: 3}
		orphan := &Run{SyncID: y.ID, WorkspaceID: ws.ID, Trigger: "schedule", Status: "running", StartedAt: start.Add(2 * time.Second), Read: 100}
		for _, r := range []*Run{done, orphan} {
			if err := s.SaveRun(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		now := start.Add(time.Minute)
		if n, err := s.InterruptOrphanRunsOf(ctx, "syn_other", "the process stopped", now); err != nil || n != 0 {
			t.Fatalf("another sync's runs: interrupted %d, %v", n, err)
		}
		n, err := s.InterruptOrphanRuns(ctx, "the process stopped", now)
		if err != nil || n != 1 {
			t.Fatalf("interrupted %d, %v", n, err)
		}
		runs, err := s.ListRuns(ctx, ws.ID, y.ID, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			want := map[string]string{done.ID: "succeeded", orphan.ID: "interrupted"}[r.ID]
			if r.Status != want {
				t.Errorf("run %s: %s, want %s", r.ID, r.Status, want)
			}
			if r.ID == orphan.ID && (r.ErrorClass != "interrupted" || r.Error != "the process stopped" || !r.FinishedAt.Equal(now) || r.Read != 100) {
				t.Errorf("orphan %+v", r)
			}
		}
	})
}
