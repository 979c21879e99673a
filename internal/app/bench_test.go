package app_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"patchbay/internal/app"
	"patchbay/internal/app/apptest"
	"patchbay/internal/bench"
	"patchbay/internal/catalog"
	"patchbay/internal/connector"
	fakehubspot "patchbay/internal/fakes/hubspot"
	"patchbay/internal/store"
	"patchbay/internal/syncer"
)

// The limit-bound maximum at HubSpot: 110 requests per 10 s, 100 records each.
const limitBoundMax = 110.0 / 10 * 100

// benchEnv starts Patchbay with the HubSpot fake at its documented limit,
// or with no limit on either side (the engine's own overhead).
func benchEnv(b *testing.B, limited bool, reg *connector.Registry) *apptest.Env {
	o := apptest.Options{Connectors: reg}
	if !limited {
		o.Fakes = func() map[string]app.Fake {
			f := app.DemoFakes()
			hs := f["hubspot"]
			hs.Handler = fakehubspot.New(fakehubspot.Options{ClientID: hs.ClientID, ClientSecret: hs.ClientSecret, RateLimit: 1 << 30, SearchRateLimit: 1 << 30})
			f["hubspot"] = hs
			return f
		}
		o.Catalog = func(c *catalog.Catalog) *catalog.Catalog {
			p, _ := c.Get("hubspot")
			q := *p
			q.RateLimit = catalog.RateLimit{}
			return c.WithProvider(&q)
		}
	}
	return apptest.Start(b, o)
}

func benchSync(e *apptest.Env, conn, tbl, direction string) *store.Sync {
	e.T.Helper()
	y := &store.Sync{WorkspaceID: app.DefaultWorkspace, ConnectionID: conn, TableID: tbl, Direction: direction, Object: "contacts", Mode: "full",
		Schedule: "manual", MatchKey: "", Mapping: []store.Mapping{{Source: "email", Target: "email"}, {Source: "firstname", Target: "first"}}}
	if direction == syncer.Outbound {
		y.MatchKey, y.Mapping = syncer.MatchExternalID, []store.Mapping{{Source: "email", Target: "email"}, {Source: "first", Target: "firstname"}}
	}
	if err := e.Store().InTx(context.Background(), func(tx *store.Tx) error { return tx.CreateSync(context.Background(), y) }); err != nil {
		e.T.Fatal(err)
	}
	return y
}

func benchTable(e *apptest.Env) string {
	tb := &store.Table{WorkspaceID: app.DefaultWorkspace, Name: "bench", Columns: []store.Column{{Name: "email", Type: "text"}, {Name: "first", Type: "text"}}}
	if err := e.Store().InTx(context.Background(), func(tx *store.Tx) error { return tx.CreateTable(context.Background(), tb) }); err != nil {
		e.T.Fatal(err)
	}
	return tb.ID
}

func benchInbound(b *testing.B, limited bool, records int) {
	e := benchEnv(b, limited, nil)
	conn := e.ConnectOAuth("hubspot", "acct-bench", nil, contactScopes...)
	recs := make([]map[string]any, records)
	for i := range recs {
		recs[i] = map[string]any{"email": fmt.Sprintf("b%07d@bench.com", i), "firstname": "B"}
	}
	if _, err := hubspotFake(e).SeedRecords("acct-bench", "contacts", recs); err != nil {
		b.Fatal(err)
	}
	var elapsed time.Duration
	total := 0
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		y := benchSync(e, conn, benchTable(e), syncer.Inbound)
		b.StartTimer()
		start := time.Now()
		res, err := e.App.Engine().Run(context.Background(), y.ID, syncer.Options{})
		elapsed += time.Since(start)
		if err != nil || res.Run.Created != records {
			b.Fatalf("run: %v %+v", err, res.Run)
		}
		total += records
	}
	perSec := float64(total) / elapsed.Seconds()
	b.ReportMetric(perSec, "records/s")
	if limited {
		b.ReportMetric(perSec/limitBoundMax, "of-limit-max")
	}
}

func benchOutbound(b *testing.B, limited bool, records int) {
	e := benchEnv(b, limited, nil)
	conn := e.ConnectOAuth("hubspot", "acct-bench", nil, contactScopes...)
	var elapsed time.Duration
	total := 0
	b.ResetTimer()
	for n := range b.N {
		b.StopTimer()
		tbl := benchTable(e)
		err := e.Store().InTx(context.Background(), func(tx *store.Tx) error {
			for i := range records {
				if err := tx.InsertRow(context.Background(), &store.Row{TableID: tbl,
					Values: map[string]any{"email": fmt.Sprintf("o%d-%07d@bench.com", n, i), "first": "O"}}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		y := benchSync(e, conn, tbl, syncer.Outbound)
		b.StartTimer()
		start := time.Now()
		res, err := e.App.Engine().Run(context.Background(), y.ID, syncer.Options{})
		elapsed += time.Since(start)
		if err != nil || res.Run.Created != records {
			b.Fatalf("run: %v %+v", err, res.Run)
		}
		total += records
	}
	perSec := float64(total) / elapsed.Seconds()
	b.ReportMetric(perSec, "records/s")
	if limited {
		b.ReportMetric(perSec/limitBoundMax, "of-limit-max")
	}
}

// Run with: go test ./internal/app -run '^$' -bench Sync -benchtime 1x
func BenchmarkSyncInboundLimited(b *testing.B)    { benchInbound(b, true, 5000) }
func BenchmarkSyncInboundUnlimited(b *testing.B)  { benchInbound(b, false, 20000) }
func BenchmarkSyncOutboundLimited(b *testing.B)   { benchOutbound(b, true, 5000) }
func BenchmarkSyncOutboundUnlimited(b *testing.B) { benchOutbound(b, false, 20000) }

// TestMillionRecordsStream syncs 1,000,000 records in and reports the peak
// heap, which stays flat because pages stream. It takes minutes: set
// PATCHBAY_TEST_MILLION=1 to run it.
func TestMillionRecordsStream(t *testing.T) {
	n := 1_000_000
	if os.Getenv("PATCHBAY_TEST_MILLION") == "" {
		t.Skip("set PATCHBAY_TEST_MILLION=1 to sync 1,000,000 records and report peak memory")
	}
	if v, err := strconv.Atoi(os.Getenv("PATCHBAY_TEST_MILLION")); err == nil && v > 1 {
		n = v
	}
	reg := connector.NewRegistry()
	if err := reg.Register("hubspot", bench.NewGenerated(n)); err != nil {
		t.Fatal(err)
	}
	e := apptest.Start(t, apptest.Options{Connectors: reg, Catalog: func(c *catalog.Catalog) *catalog.Catalog {
		p, _ := c.Get("hubspot")
		q := *p
		q.RateLimit = catalog.RateLimit{}
		return c.WithProvider(&q)
	}})
	conn := e.ConnectOAuth("hubspot", "acct-m", nil, contactScopes...)
	y := benchSync(e, conn, benchTable(e), syncer.Inbound)

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	start := time.Now()
	res, err := e.App.Engine().Run(context.Background(), y.ID, syncer.Options{})
	elapsed := time.Since(start)
	close(done)
	wg.Wait()
	if err != nil || res.Run.Created != n {
		t.Fatalf("run: %v %+v", err, res.Run)
	}
	var out runtime.MemStats
	runtime.ReadMemStats(&out)
	t.Logf("%d records in %s (%.0f records/s); heap before %.1f MiB, peak %.1f MiB, system %.1f MiB",
		n, elapsed.Round(time.Second), float64(n)/elapsed.Seconds(), mib(base), mib(peak), mib(out.Sys))
	if peak-base > 256<<20 {
		t.Fatalf("peak heap grew by %.1f MiB: the run does not stream", mib(peak-base))
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
