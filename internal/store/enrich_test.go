package store

import (
	"context"
	"testing"
	"time"
)

func TestEnrichmentStore(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ws, _ := seedConnection(t, s)
		tb := &Table{WorkspaceID: ws.ID, Name: "T", Columns: []Column{{Name: "domain", Type: "text"}}}
		rows := []*Row{{Values: map[string]any{"domain": "a.com"}}, {Values: map[string]any{"domain": "b.com"}}}
		a := &ActionColumn{WorkspaceID: ws.ID, Name: "Facts", Status: "active", Spec: ActionSpec{ConnectionIDs: []string{"c1"}, Lookup: "x",
			Inputs: map[string]string{"domain": "domain"}, Outputs: map[string]string{"phone": "phone"}}}
		run := &EnrichRun{Trigger: "created", Only: "all"}
		err := s.InTx(ctx, func(tx *Tx) error {
			if err := tx.CreateTable(ctx, tb); err != nil {
				return err
			}
			for _, r := range rows {
				r.TableID = tb.ID
				if err := tx.InsertRow(ctx, r); err != nil {
					return err
				}
			}
			a.TableID = tb.ID
			if err := tx.CreateActionColumn(ctx, a); err != nil {
				return err
			}
			run.ColumnID = a.ID
			return tx.CreateEnrichRun(ctx, run)
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.InTx(ctx, func(tx *Tx) error {
			return tx.CreateActionColumn(ctx, &ActionColumn{WorkspaceID: ws.ID, TableID: tb.ID, Name: "Facts"})
		}); err == nil {
			t.Fatal("a second column of the same name was accepted")
		}
		rcs, err := s.RowsForColumn(ctx, tb.ID, a.ID, time.Time{}, "", 10)
		if err != nil || len(rcs) != 2 || rcs[0].Cell != nil {
			t.Fatalf("rows for column: %v %+v", err, rcs)
		}
		due := time.Now().UTC().Add(-time.Second).Truncate(time.Microsecond)
		c := &Cell{RowID: rows[0].ID, ColumnID: a.ID, TableID: tb.ID, State: CellPending, RunID: run.ID, DueAt: due}
		if err := s.InTx(ctx, func(tx *Tx) error {
			if err := tx.PutCell(ctx, c); err != nil {
				return err
			}
			return tx.AddRunCounts(ctx, run.ID, RunCounts{Queued: 1, Lookups: 1})
		}); err != nil {
			t.Fatal(err)
		}
		cells, err := s.DueCells(ctx, time.Now(), 10)
		if err != nil || len(cells) != 1 {
			t.Fatalf("due cells: %v %+v", err, cells)
		}
		if ok, err := s.ClaimCell(ctx, cells[0], time.Now().Add(time.Minute)); err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		stale := *c
		if ok, err := s.ClaimCell(ctx, &stale, time.Now().Add(time.Minute)); err != nil || ok {
			t.Fatalf("a second claim of the same cell succeeded: %v %v", ok, err)
		}
		if got, _ := s.CellsOfRows(ctx, []string{rows[0].ID}); len(got[rows[0].ID]) != 1 || got[rows[0].ID][0].Column != "Facts" {
			t.Fatalf("cells of rows: %+v", got)
		}
		if err := s.CachePut(ctx, "k", &CachedAnswer{Found: true, Data: map[string]any{"phone": "1"}, FetchedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if ans, ok, err := s.CacheGet(ctx, "k"); err != nil || !ok || !ans.Found || ans.Data["phone"] != "1" {
			t.Fatalf("cache: %v %v %+v", err, ok, ans)
		}
		if err := s.SetEnrichSettings(ctx, &EnrichSettings{TableID: tb.ID, DailyBudget: 2}); err != nil {
			t.Fatal(err)
		}
		spent := 0
		for range 5 {
			ok, err := s.SpendLookup(ctx, tb.ID, "2026-01-01")
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				spent++
			}
		}
		if ok, _ := s.SpendLookup(ctx, tb.ID, "2026-01-02"); spent != 2 || !ok {
			t.Fatalf("budget: spent %d of 2, next day %v", spent, ok)
		}
		total, err := s.TotalRunCounts(ctx, a.ID)
		if err != nil || total.Queued != 1 || total.Lookups != 1 {
			t.Fatalf("totals: %v %+v", err, total)
		}
	})
}
