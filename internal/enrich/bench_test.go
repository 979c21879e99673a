package enrich_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"patchbay/internal/catalog"
	"patchbay/internal/connection"
	"patchbay/internal/connector"
	"patchbay/internal/connector/dataprovider"
	"patchbay/internal/enrich"
	fakedp "patchbay/internal/fakes/dataprovider"
	"patchbay/internal/store"
	"patchbay/internal/vault"
)

// benchEnrich enriches b.N rows with distinct domains (no cache hits) and
// reports rows per second. catalogRate is the data provider's documented
// limit per second as the catalog gives it to the transport (0: none);
// fakeRate is what the fake enforces.
func benchEnrich(b *testing.B, catalogRate, fakeRate int) float64 {
	ctx := context.Background()
	st := store.OpenTest(b, store.SQLite)
	fake := fakedp.New(fakedp.Options{DemoKey: "bench-key", RateLimit: fakeRate, Credits: 1 << 30})
	srv := httptest.NewServer(fake)
	b.Cleanup(srv.Close)
	cat, err := catalog.Load()
	if err != nil {
		b.Fatal(err)
	}
	p, _ := cat.Get("dataprovider")
	cp := *p
	cp.RateLimit = catalog.RateLimit{Requests: catalogRate, Period: "1s"}
	if catalogRate == 0 {
		cp.RateLimit = catalog.RateLimit{}
	}
	cat = cat.WithProvider(&cp)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	v, err := vault.New(key)
	if err != nil {
		b.Fatal(err)
	}
	reg := connector.NewRegistry()
	if err := reg.Register("dataprovider", dataprovider.New()); err != nil {
		b.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	conns := connection.New(connection.Config{Store: st, Vault: v, Catalog: cat, Connectors: reg, Logger: quiet})
	ws, err := st.EnsureWorkspace(ctx, "bench", "Bench", catalog.TierStandard)
	if err != nil {
		b.Fatal(err)
	}
	c, _, err := conns.Connect(ctx, ws, connection.ConnectRequest{Provider: "dataprovider", Config: map[string]string{"endpoint_url": srv.URL}, APIKey: "bench-key"})
	if err != nil {
		b.Fatal(err)
	}
	tb := &store.Table{WorkspaceID: ws.ID, Name: "Bench", Columns: []store.Column{{Name: "domain", Type: "text"}}}
	err = st.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.CreateTable(ctx, tb); err != nil {
			return err
		}
		for i := range b.N {
			if err := tx.InsertRow(ctx, &store.Row{TableID: tb.ID, Values: map[string]any{"domain": fmt.Sprintf("bench%d-%d.com", time.Now().UnixNano(), i)}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	svc := enrich.New(enrich.Config{Store: st, Conns: conns, Logger: quiet, Tick: 10 * time.Millisecond})
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := svc.Start(runCtx); err != nil {
		b.Fatal(err)
	}
	defer svc.Stop()
	b.ResetTimer()
	start := time.Now()
	a, err := svc.CreateColumn(ctx, ws, tb.ID, enrich.ColumnRequest{Name: "Facts", Spec: store.ActionSpec{ConnectionIDs: []string{c.ID},
		Lookup: "company_by_domain", Inputs: map[string]string{"domain": "domain"}, Outputs: map[string]string{"phone": "phone", "industry": "industry"}}})
	if err != nil {
		b.Fatal(err)
	}
	for {
		n, err := st.CellCounts(ctx, a.ID)
		if err != nil {
			b.Fatal(err)
		}
		if n[store.CellDone] == b.N {
			break
		}
		if n[store.CellFailed] > 0 || n[store.CellNotFound] > 0 {
			b.Fatalf("cells: %v", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if s := fake.Stats(); s.RateLimited > 0 {
		b.Fatalf("the fake answered 429 %d times", s.RateLimited)
	}
	rate := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rate, "rows/s")
	return rate
}

// BenchmarkEnrichAtProviderLimit: the data provider fake at its documented
// 10 requests per second; rows/s as a fraction of that limit.
func BenchmarkEnrichAtProviderLimit(b *testing.B) {
	rate := benchEnrich(b, fakedp.DefaultRateLimit, fakedp.DefaultRateLimit)
	b.ReportMetric(rate/fakedp.DefaultRateLimit, "fraction_of_limit")
}

// BenchmarkEnrichUnlimited: no limit anywhere, so rows/s is the engine's
// own cost per row (store, cache, cell state, row write, one local HTTP call).
func BenchmarkEnrichUnlimited(b *testing.B) {
	rate := benchEnrich(b, 0, 1_000_000)
	b.ReportMetric(1e6/rate, "µs/row")
}
