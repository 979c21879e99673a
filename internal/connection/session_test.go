package connection_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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

// One live session used by several goroutines at once, as a sync paging
// and an enrichment lookup share a connection: every request succeeds, the
// token the provider expired midway is refreshed once, and (under -race) the
// session's record of the token it sent is not a data race.
func TestLiveSessionIsSafeForConcurrentRequests(t *testing.T) {
	t.Parallel()
	fake := fakehubspot.New(fakehubspot.Options{ClientID: "cid", ClientSecret: "secret"})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := cat.Get("hubspot")
	cat = cat.WithProvider(p.Rebase(srv.URL))
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	v, err := vault.New(key)
	if err != nil {
		t.Fatal(err)
	}
	reg := connector.NewRegistry()
	if err := reg.Register("hubspot", hubspot.New()); err != nil {
		t.Fatal(err)
	}
	st := store.OpenTest(t, store.SQLite)
	svc := connection.New(connection.Config{Store: st, Vault: v, Catalog: cat, Connectors: reg,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clients: map[string]connection.ClientCredentials{"hubspot": {ID: "cid", Secret: "secret"}}})

	ctx := context.Background()
	if _, err := st.EnsureWorkspace(ctx, "ws", "WS", "standard"); err != nil {
		t.Fatal(err)
	}
	tok := fake.IssueToken("acct-race")
	now := time.Now().UTC()
	c := &store.Connection{WorkspaceID: "ws", Provider: "hubspot", Status: connection.StatusConnected, AccountID: "acct-race",
		ScopesRequested: tok.Scopes, ScopesGranted: tok.Scopes, ConnectedAt: now, LastActivityAt: now,
		ExpiresAt: now.Add(time.Duration(tok.ExpiresIn) * time.Second)}
	err = st.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.CreateConnection(ctx, c); err != nil {
			return err
		}
		plain, _ := json.Marshal(connector.Credentials{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: c.ExpiresAt})
		sealed, err := v.Seal(plain, []byte(c.ID))
		if err != nil {
			return err
		}
		return tx.SaveCredential(ctx, c.ID, store.Credential{KeyID: v.CurrentKeyID(), Ciphertext: sealed})
	})
	if err != nil {
		t.Fatal(err)
	}
	sess, conn, err := svc.Session(ctx, c)
	if err != nil {
		t.Fatal(err)
	}

	const goroutines, calls = 6, 2 // within a few seconds of HubSpot's rate limit
	list := func() {
		var wg sync.WaitGroup
		errs := make(chan error, goroutines*calls)
		for range goroutines {
			wg.Go(func() {
				for range calls {
					if _, err := conn.List(ctx, sess, connector.ListRequest{Object: "contacts", Limit: 1}); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("list on a shared live session: %v", err)
		}
	}
	list()
	resp, err := http.Post(srv.URL+"/_control/expire", "application/json", strings.NewReader(`{"account":"acct-race"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	before := fake.Stats()
	list()
	after := fake.Stats()
	if got := after.TokensRefreshed - before.TokensRefreshed; got != 1 {
		t.Fatalf("%d refreshes for one expired token shared by %d goroutines, want 1", got, goroutines)
	}
	if after.Unauthorized == before.Unauthorized {
		t.Fatal("no request met the expired token; the test proves nothing")
	}
	if after.RefreshTokensReused != before.RefreshTokensReused {
		t.Fatal("a refresh token was spent twice")
	}
}
