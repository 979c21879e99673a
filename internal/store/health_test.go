package store

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestEpisodesOpenOnceAndClose(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ws, c := seedConnection(t, s)
		now := time.Now().UTC()
		open := func() bool {
			var opened bool
			if err := s.InTx(ctx, func(tx *Tx) error {
				var err error
				opened, err = tx.OpenEpisode(ctx, &Episode{WorkspaceID: ws.ID, ConnectionID: c.ID, Kind: "red", OpenedAt: now})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return opened
		}
		if !open() || open() {
			t.Fatal("an episode opened twice, or not at all")
		}
		var closed *Episode
		if err := s.InTx(ctx, func(tx *Tx) error {
			var err error
			closed, err = tx.CloseEpisode(ctx, ws.ID, c.ID, "red", "", now)
			return err
		}); err != nil || closed == nil {
			t.Fatalf("close: %v %v", closed, err)
		}
		if !open() {
			t.Fatal("a new episode did not open after the last one closed")
		}
	})
}

func TestSyncFailuresAndRoutes(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ws, c := seedConnection(t, s)
		now := time.Now().UTC()
		var failing []string
		if err := s.InTx(ctx, func(tx *Tx) error {
			for _, f := range []struct {
				sync string
				at   time.Time
			}{{"syn_a", now.Add(-time.Hour)}, {"syn_b", now}, {"syn_c", now}, {"syn_c", now}} {
				if err := tx.RecordSyncFailure(ctx, c.ID, f.sync, "token_expired", f.at); err != nil {
					return err
				}
			}
			var err error
			failing, err = tx.FailingSyncs(ctx, c.ID, now.Add(-time.Minute))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(failing, []string{"syn_b", "syn_c"}) {
			t.Fatalf("failing %v", failing)
		}
		r := &NotificationRoute{WorkspaceID: ws.ID, Channel: "webhook", Target: "https://x.example", Secret: []byte{1}, Events: []string{"connection.red"}}
		if err := s.CreateRoute(ctx, r); err != nil {
			t.Fatal(err)
		}
		got, err := s.ListRoutes(ctx, ws.ID)
		if err != nil || len(got) != 1 || got[0].Target != r.Target || !slices.Equal(got[0].Events, r.Events) || len(got[0].Secret) != 1 {
			t.Fatalf("routes %+v %v", got, err)
		}
		if err := s.DeleteRoute(ctx, "other", r.ID); err == nil {
			t.Fatal("another workspace deleted the route")
		}
		if err := s.DeleteRoute(ctx, ws.ID, r.ID); err != nil {
			t.Fatal(err)
		}
	})
}
