package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSessionsLiveUntilExpiryAndDieWithTheirToken(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ws, err := s.EnsureWorkspace(ctx, "ws1", "One", "standard")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.EnsureToken(ctx, ws.ID, "admin", "admin", "tokhash"); err != nil {
			t.Fatal(err)
		}
		tok, err := s.TokenByHash(ctx, "tokhash")
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		se := &Session{IDHash: "h1", WorkspaceID: ws.ID, TokenID: tok.ID, CSRFToken: "csrf1", ExpiresAt: now.Add(time.Hour)}
		if err := s.CreateSession(ctx, se); err != nil {
			t.Fatal(err)
		}
		got, gotTok, err := s.SessionByHash(ctx, "h1", now)
		if err != nil {
			t.Fatal(err)
		}
		if got.CSRFToken != "csrf1" || got.WorkspaceID != ws.ID || gotTok.ID != tok.ID || gotTok.Name != "admin" {
			t.Fatalf("session %+v token %+v", got, gotTok)
		}
		if _, _, err := s.SessionByHash(ctx, "h1", now.Add(2*time.Hour)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("expired session: err %v, want ErrNotFound", err)
		}
		if _, _, err := s.SessionByHash(ctx, "nope", now); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown session: err %v", err)
		}
		if n, err := s.DeleteExpiredSessions(ctx, now.Add(2*time.Hour)); err != nil || n != 1 {
			t.Fatalf("delete expired: %d %v", n, err)
		}
		if err := s.CreateSession(ctx, &Session{IDHash: "h2", WorkspaceID: ws.ID, TokenID: tok.ID, CSRFToken: "c", ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteSession(ctx, "h2"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.SessionByHash(ctx, "h2", now); !errors.Is(err, ErrNotFound) {
			t.Fatalf("logged-out session: err %v", err)
		}
	})
}

func TestLoginLinkWorksOnce(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ws, err := s.EnsureWorkspace(ctx, "ws1", "One", "standard")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.EnsureToken(ctx, ws.ID, "admin", "admin", "tokhash"); err != nil {
			t.Fatal(err)
		}
		tok, err := s.TokenByHash(ctx, "tokhash")
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		for _, l := range []*LoginLink{
			{CodeHash: "good", WorkspaceID: ws.ID, TokenID: tok.ID, ExpiresAt: now.Add(time.Hour)},
			{CodeHash: "old", WorkspaceID: ws.ID, TokenID: tok.ID, ExpiresAt: now.Add(-time.Second)},
		} {
			if err := s.CreateLoginLink(ctx, l); err != nil {
				t.Fatal(err)
			}
		}
		l, err := s.TakeLoginLink(ctx, "good", now)
		if err != nil || l.TokenID != tok.ID || l.WorkspaceID != ws.ID {
			t.Fatalf("first take: %+v %v", l, err)
		}
		for _, tc := range []struct {
			hash string
			want error
		}{{"good", ErrLoginLinkUsed}, {"old", ErrLoginLinkExpired}, {"unknown", ErrNotFound}} {
			if _, err := s.TakeLoginLink(ctx, tc.hash, now); !errors.Is(err, tc.want) {
				t.Errorf("take %s: err %v, want %v", tc.hash, err, tc.want)
			}
		}
	})
}
