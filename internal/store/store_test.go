package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// The conformance suite: every test runs against each dialect.
func forEachDialect(t *testing.T, fn func(t *testing.T, s *Store)) {
	for _, d := range []string{SQLite, Postgres} {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, OpenTest(t, d))
		})
	}
}

func seedConnection(t *testing.T, s *Store) (*Workspace, *Connection) {
	t.Helper()
	ctx := context.Background()
	ws, err := s.EnsureWorkspace(ctx, "ws1", "One", "standard")
	if err != nil {
		t.Fatal(err)
	}
	c := &Connection{WorkspaceID: ws.ID, Provider: "hubspot", Status: "not_connected", Config: map[string]string{"a": "b"},
		ScopesRequested: []string{"oauth"}}
	if err := s.InTx(ctx, func(tx *Tx) error { return tx.CreateConnection(ctx, c) }); err != nil {
		t.Fatal(err)
	}
	return ws, c
}

func TestConnectionsRoundTrip(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ws, c := seedConnection(t, s)
		now := time.Now().UTC().Truncate(time.Millisecond)
		c.Status, c.AccountID, c.ConnectedAt, c.ScopesGranted = "connected", "42", now, []string{"oauth", "x"}
		if err := s.InTx(ctx, func(tx *Tx) error {
			if err := tx.UpdateConnection(ctx, c); err != nil {
				return err
			}
			return tx.SaveCredential(ctx, c.ID, Credential{KeyID: "k1", Ciphertext: []byte{1, 2, 3}})
		}); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetConnection(ctx, ws.ID, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != "connected" || got.AccountID != "42" || !got.ConnectedAt.Equal(now) || !slices.Equal(got.ScopesGranted, c.ScopesGranted) || got.Config["a"] != "b" {
			t.Fatalf("round trip: %+v", got)
		}
		if _, err := s.GetConnection(ctx, "other", c.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("other workspace sees connection: %v", err)
		}
		cred, err := s.Credential(ctx, c.ID)
		if err != nil || cred.KeyID != "k1" || len(cred.Ciphertext) != 3 {
			t.Fatalf("credential: %+v %v", cred, err)
		}
		if err := s.InTx(ctx, func(tx *Tx) error { return tx.DeleteCredential(ctx, c.ID) }); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Credential(ctx, c.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("credential after delete: %v", err)
		}
	})
}

func TestStateIsSingleUse(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ws, c := seedConnection(t, s)
		now := time.Now()
		for _, st := range []*OAuthState{
			{Hash: "live", WorkspaceID: ws.ID, ConnectionID: c.ID, Provider: "hubspot", Purpose: "connect", Verifier: []byte("v"), ExpiresAt: now.Add(time.Minute)},
			{Hash: "old", WorkspaceID: ws.ID, ConnectionID: c.ID, Provider: "hubspot", Purpose: "connect", Verifier: []byte("v"), ExpiresAt: now.Add(-time.Minute)},
		} {
			if err := s.InTx(ctx, func(tx *Tx) error { return tx.CreateState(ctx, st) }); err != nil {
				t.Fatal(err)
			}
		}
		take := func(h string) error {
			return s.InTx(ctx, func(tx *Tx) error { _, err := tx.TakeState(ctx, h, now); return err })
		}
		tests := []struct {
			hash string
			want error
		}{{"live", nil}, {"live", ErrStateUsed}, {"old", ErrStateExpired}, {"forged", ErrNotFound}}
		for _, tc := range tests {
			if err := take(tc.hash); !errors.Is(err, tc.want) && (tc.want != nil || err != nil) {
				t.Fatalf("take %s: %v, want %v", tc.hash, err, tc.want)
			}
		}
	})
}

func TestSyncsPauseResumeKeepsUserPause(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ws, c := seedConnection(t, s)
		tb := &Table{WorkspaceID: ws.ID, Name: "Leads", Columns: []Column{{"email", "text"}}}
		running := &Sync{WorkspaceID: ws.ID, ConnectionID: c.ID, Direction: "inbound", Object: "contacts", Schedule: "every:15m",
			Mapping: []Mapping{{Source: "email", Target: "email"}}}
		byUser := &Sync{WorkspaceID: ws.ID, ConnectionID: c.ID, Direction: "outbound", Object: "contacts", Paused: true, PauseReason: "user"}
		err := s.InTx(ctx, func(tx *Tx) error {
			if err := tx.CreateTable(ctx, tb); err != nil {
				return err
			}
			running.TableID, byUser.TableID = tb.ID, tb.ID
			if err := tx.CreateSync(ctx, running); err != nil {
				return err
			}
			if err := tx.CreateSync(ctx, byUser); err != nil {
				return err
			}
			return tx.PauseSyncs(ctx, c.ID, "disconnected")
		})
		if err != nil {
			t.Fatal(err)
		}
		var resumed []string
		if err := s.InTx(ctx, func(tx *Tx) error {
			var err error
			resumed, err = tx.ResumeSyncs(ctx, c.ID, "disconnected")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(resumed, []string{running.ID}) {
			t.Fatalf("resumed %v", resumed)
		}
		got, _ := s.GetSync(ctx, ws.ID, byUser.ID)
		if !got.Paused || got.PauseReason != "user" {
			t.Fatalf("user pause lost: %+v", got)
		}
		run := &Run{SyncID: running.ID, WorkspaceID: ws.ID, Trigger: "manual", Status: "succeeded", StartedAt: time.Now(), Read: 3,
			RowErrors: []RowError{{Message: "x"}}}
		if err := s.SaveRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		runs, err := s.ListRuns(ctx, ws.ID, "", c.ID, 10)
		if err != nil || len(runs) != 1 || runs[0].Read != 3 || len(runs[0].RowErrors) != 1 {
			t.Fatalf("runs %+v %v", runs, err)
		}
	})
}
