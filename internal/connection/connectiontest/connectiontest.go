// Package connectiontest builds a connection service against a HubSpot fake
// on a real listener, over a fresh SQLite store, for tests of the packages
// that use connections (connection, health).
package connectiontest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"patchbay/internal/catalog"
	"patchbay/internal/connection"
	"patchbay/internal/connector"
	"patchbay/internal/connector/hubspot"
	fakehubspot "patchbay/internal/fakes/hubspot"
	"patchbay/internal/store"
	"patchbay/internal/vault"
)

// Workspace is the workspace Connect puts connections in.
const Workspace = "ws"

// Env is a store, a HubSpot fake and a connection service pointed at it.
type Env struct {
	Store *store.Store
	Fake  *fakehubspot.Fake
	Conns *connection.Service
	Vault *vault.Vault
}

// New starts the fake and builds the service; everything stops at cleanup.
func New(tb testing.TB) *Env {
	tb.Helper()
	fake := fakehubspot.New(fakehubspot.Options{ClientID: "cid", ClientSecret: "secret"})
	srv := httptest.NewServer(fake)
	tb.Cleanup(srv.Close)
	cat, err := catalog.Load()
	if err != nil {
		tb.Fatal(err)
	}
	p, _ := cat.Get("hubspot")
	cat = cat.WithProvider(p.Rebase(srv.URL))
	key := make([]byte, vault.KeySize)
	_, _ = rand.Read(key)
	v, err := vault.New(key)
	if err != nil {
		tb.Fatal(err)
	}
	reg := connector.NewRegistry()
	if err := reg.Register("hubspot", hubspot.New()); err != nil {
		tb.Fatal(err)
	}
	st := store.OpenTest(tb, store.SQLite)
	conns := connection.New(connection.Config{Store: st, Vault: v, Catalog: cat, Connectors: reg,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clients: map[string]connection.ClientCredentials{"hubspot": {ID: "cid", Secret: "secret"}}})
	return &Env{Store: st, Fake: fake, Conns: conns, Vault: v}
}

// Connect stores n connected HubSpot connections of accounts prefix-00000…,
// with tokens the fake issued, as the OAuth callback would have stored them.
func (e *Env) Connect(tb testing.TB, prefix string, n int) []*store.Connection {
	tb.Helper()
	ctx := context.Background()
	if _, err := e.Store.EnsureWorkspace(ctx, Workspace, "WS", "standard"); err != nil {
		tb.Fatal(err)
	}
	now := time.Now().UTC()
	out := make([]*store.Connection, 0, n)
	err := e.Store.InTx(ctx, func(tx *store.Tx) error {
		for i := range n {
			acct := fmt.Sprintf("%s-%05d", prefix, i)
			tok := e.Fake.IssueToken(acct)
			c := &store.Connection{WorkspaceID: Workspace, Provider: "hubspot", Status: connection.StatusConnected, AccountID: acct,
				ScopesRequested: tok.Scopes, ScopesGranted: tok.Scopes, ConnectedAt: now, LastActivityAt: now,
				ExpiresAt: now.Add(time.Duration(tok.ExpiresIn) * time.Second)}
			if err := tx.CreateConnection(ctx, c); err != nil {
				return err
			}
			plain, _ := json.Marshal(connector.Credentials{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: c.ExpiresAt})
			sealed, err := e.Vault.Seal(plain, []byte(c.ID))
			if err != nil {
				return err
			}
			if err := tx.SaveCredential(ctx, c.ID, store.Credential{KeyID: e.Vault.CurrentKeyID(), Ciphertext: sealed}); err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
