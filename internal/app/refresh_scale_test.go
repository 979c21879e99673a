package app_test

import (
	"context"
	"io"
	"sync"
	"testing"

	"patchbay/internal/app"
	"patchbay/internal/app/apptest"
	"patchbay/internal/connection"
	"patchbay/internal/store"
)

// Fifty services, each with its own pool of database connections as a
// separate process would have, refresh one connection at once: the lock
// across processes lets exactly one of them spend the refresh token. (The
// same with real worker processes is TestWorkerProcesses… in cmd/patchbay.)
func TestRefreshAcrossProcessesIsOnce(t *testing.T) {
	t.Parallel()
	dsn := store.TestDSN(t, store.Postgres)
	e := apptest.Start(t, apptest.Options{Database: dsn})
	id := e.ConnectOAuth("hubspot", "acct-many", nil)
	ctx := context.Background()
	old, err := e.App.Conns.Token(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	e.Control("hubspot", "expire", map[string]string{"account": "acct-many"})
	reg, err := app.Connectors()
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	services := make([]*connection.Service, n)
	for i := range services {
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		services[i] = connection.New(connection.Config{Store: st, Vault: e.App.Vault, Catalog: e.App.Catalog, Connectors: reg,
			Clients: map[string]connection.ClientCredentials{"hubspot": {ID: "patchbay-demo", Secret: "patchbay-demo-secret"}},
			Logger:  app.NewLogger(io.Discard, "error")})
	}
	before := hubspotFake(e).Stats()
	var wg sync.WaitGroup
	gate := make(chan struct{})
	tokens := make([]string, n)
	errs := make([]error, n)
	for i, svc := range services {
		wg.Go(func() {
			<-gate
			c, err := svc.Token(ctx, id, old.AccessToken)
			tokens[i], errs[i] = c.AccessToken, err
		})
	}
	close(gate)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("service %d: %v", i, err)
		}
		if tokens[i] == old.AccessToken || tokens[i] != tokens[0] {
			t.Fatalf("service %d did not get the one new token", i)
		}
	}
	after := hubspotFake(e).Stats()
	if got := after.TokensRefreshed - before.TokensRefreshed; got != 1 {
		t.Fatalf("%d refreshes at the provider, want exactly 1", got)
	}
	if after.RefreshTokensReused != before.RefreshTokensReused {
		t.Fatalf("%d refresh tokens reused", after.RefreshTokensReused-before.RefreshTokensReused)
	}
}
