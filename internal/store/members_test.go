package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestMembersAndTokens(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ws, err := s.CreateWorkspace(ctx, "Team", "standard")
		if err != nil {
			t.Fatal(err)
		}
		u, err := s.EnsureUser(ctx, " Ada@Example.com ", "Ada")
		if err != nil || u.Email != "ada@example.com" {
			t.Fatalf("user %+v %v", u, err)
		}
		if again, _ := s.EnsureUser(ctx, "ada@example.com", ""); again.ID != u.ID {
			t.Fatal("a second user for the same e-mail")
		}
		if err := s.AddMember(ctx, ws.ID, u.ID, "admin"); err != nil {
			t.Fatal(err)
		}
		if err := s.AddMember(ctx, ws.ID, u.ID, "viewer"); !errors.Is(err, ErrConflict) {
			t.Fatalf("second membership: %v", err)
		}
		tok := &Token{WorkspaceID: ws.ID, UserID: u.ID, Name: "ci", Role: "member", ExpiresAt: time.Now().Add(time.Hour)}
		if err := s.CreateToken(ctx, tok, "hash-1"); err != nil {
			t.Fatal(err)
		}
		got, err := s.TokenByHash(ctx, "hash-1")
		if err != nil || got.UserID != u.ID || got.MemberRole != "admin" || got.Role != "member" || got.ExpiresAt.IsZero() {
			t.Fatalf("token %+v %v", got, err)
		}
		if _, err := s.GetToken(ctx, "other", tok.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("token seen from another workspace: %v", err)
		}
		if err := s.RevokeToken(ctx, "other", tok.ID, time.Now()); !errors.Is(err, ErrNotFound) {
			t.Fatalf("token revoked from another workspace: %v", err)
		}
		err = s.InTx(ctx, func(tx *Tx) error {
			if n, err := tx.CountOwners(ctx, ws.ID); err != nil || n != 0 {
				t.Errorf("owners %d %v", n, err)
			}
			if err := tx.SetMemberRole(ctx, ws.ID, u.ID, "viewer"); err != nil {
				return err
			}
			return tx.RemoveMember(ctx, ws.ID, u.ID, time.Now())
		})
		if err != nil {
			t.Fatal(err)
		}
		got, _ = s.TokenByHash(ctx, "hash-1")
		if got.MemberRole != "" || got.RevokedAt.IsZero() {
			t.Fatalf("token after the member left: %+v", got)
		}
		if ms, _ := s.ListMembers(ctx, ws.ID); len(ms) != 0 {
			t.Fatalf("%d members left", len(ms))
		}
	})
}

func TestSwapCredentialIsCompareAndSwap(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, c := seedConnection(t, s)
		if err := s.InTx(ctx, func(tx *Tx) error {
			return tx.SaveCredential(ctx, c.ID, Credential{KeyID: "k1", Ciphertext: []byte("old")})
		}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			old  string
			want bool
		}{{"stale", false}, {"old", true}, {"old", false}} {
			var ok bool
			if err := s.InTx(ctx, func(tx *Tx) error {
				var err error
				ok, err = tx.SwapCredential(ctx, c.ID, []byte(tc.old), Credential{KeyID: "k2", Ciphertext: []byte("new")})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if ok != tc.want {
				t.Fatalf("swap from %q: %v, want %v", tc.old, ok, tc.want)
			}
		}
		cr, _ := s.Credential(ctx, c.ID)
		if cr.KeyID != "k2" || string(cr.Ciphertext) != "new" {
			t.Fatalf("after swap: %+v", cr)
		}
	})
}
