package health_test

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
	"patchbay/internal/health"
	"patchbay/internal/store"
	"patchbay/internal/vault"
)

// bundle is a store, a HubSpot fake on a real listener, and a connection
// service pointed at it.
type bundle struct {
	st    *store.Store
	fake  *fakehubspot.Fake
	conns *connection.Service
	vault *vault.Vault
}

func setup(tb testing.TB) *bundle {
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
	key := make([]byte, 32)
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
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	conns := connection.New(connection.Config{Store: st, Vault: v, Catalog: cat, Connectors: reg, Logger: log,
		Clients: map[string]connection.ClientCredentials{"hubspot": {ID: "cid", Secret: "secret"}}})
	return &bundle{st: st, fake: fake, conns: conns, vault: v}
}

// connect stores n connected HubSpot connections, one account each, with
// tokens the fake issued (as the OAuth callback would have stored them).
func (b *bundle) connect(tb testing.TB, n int) {
	tb.Helper()
	ctx := context.Background()
	if _, err := b.st.EnsureWorkspace(ctx, "ws", "WS", "standard"); err != nil {
		tb.Fatal(err)
	}
	now := time.Now().UTC()
	err := b.st.InTx(ctx, func(tx *store.Tx) error {
		for i := range n {
			acct := fmt.Sprintf("acct-%05d", i)
			tok := b.fake.IssueToken(acct)
			c := &store.Connection{WorkspaceID: "ws", Provider: "hubspot", Status: connection.StatusConnected, AccountID: acct,
				ScopesRequested: tok.Scopes, ScopesGranted: tok.Scopes, ConnectedAt: now, LastActivityAt: now,
				ExpiresAt: now.Add(time.Duration(tok.ExpiresIn) * time.Second)}
			if err := tx.CreateConnection(ctx, c); err != nil {
				return err
			}
			plain, _ := json.Marshal(connector.Credentials{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: c.ExpiresAt})
			sealed, err := b.vault.Seal(plain, []byte(c.ID))
			if err != nil {
				return err
			}
			if err := tx.SaveCredential(ctx, c.ID, store.Credential{KeyID: b.vault.CurrentKeyID(), Ciphertext: sealed}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// Stop returns only after the loop goroutine has ended (it waits on done), and
// a sweep's probes all finish before Sweep returns.
func TestMonitorSweepsAtStartAndStops(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.connect(t, 3)
	observed := make(chan string, 3)
	m, err := health.New(health.Config{Store: b.st, Conns: b.conns, Interval: time.Hour,
		Observe: func(_ context.Context, c *store.Connection) { observed <- c.ID }})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err == nil {
		t.Fatal("a second Start was accepted")
	}
	for range 3 {
		select {
		case <-observed:
		case <-time.After(10 * time.Second):
			t.Fatal("the first sweep did not probe every connection")
		}
	}
	m.Stop()
	m.Stop()
	if got := m.Last(); got.Probed != 3 || got.Green != 3 {
		t.Fatalf("last sweep %+v", got)
	}
	if _, err := health.New(health.Config{Store: b.st}); err == nil {
		t.Fatal("a monitor without a connection service was built")
	}
}

// BenchmarkSweep10k sweeps 10,000 HubSpot connections against the fake and
// reports the sweep time and probes per second. It fails when a sweep takes
// longer than the default probe interval (5 min) or when the fake refused any
// request for a rate limit.
//
//	go test ./internal/health -run '^$' -bench Sweep10k -benchtime 1x
func BenchmarkSweep10k(b *testing.B) {
	const n = 10_000
	bd := setup(b)
	bd.connect(b, n)
	m, err := health.New(health.Config{Store: bd.st, Conns: bd.conns, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var last health.Sweep
	for range b.N {
		last, err = m.Sweep(context.Background())
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if last.Probed != n || last.Green != n || last.Failed != 0 {
		b.Fatalf("sweep %+v", last)
	}
	if last.Duration > 5*time.Minute {
		b.Fatalf("a sweep took %s, longer than the default probe interval", last.Duration)
	}
	st := bd.fake.Stats()
	if st.RateLimited != 0 || st.OverLimit != 0 {
		b.Fatalf("the fake refused %d requests for its rate limit (%d over limit)", st.RateLimited, st.OverLimit)
	}
	b.ReportMetric(last.Duration.Seconds(), "s/sweep")
	b.ReportMetric(float64(n)/last.Duration.Seconds(), "probes/s")
}
