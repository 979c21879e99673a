package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"patchbay/internal/app"
	"patchbay/internal/catalog"
	"patchbay/internal/connection"
	"patchbay/internal/connector"
	"patchbay/internal/connector/hubspot"
	"patchbay/internal/enrich"
	fakedp "patchbay/internal/fakes/dataprovider"
	fakehubspot "patchbay/internal/fakes/hubspot"
	"patchbay/internal/health"
	"patchbay/internal/loadtest"
	"patchbay/internal/store"
	"patchbay/internal/syncer"
)

// unlimited drops a provider's limit from the catalog, so that the
// transport spends no budget on it.
func unlimited(id string) func(*catalog.Catalog) *catalog.Catalog {
	return func(c *catalog.Catalog) *catalog.Catalog {
		p, _ := c.Get(id)
		q := *p
		q.RateLimit = catalog.RateLimit{}
		return c.WithProvider(&q)
	}
}

// runEngine measures the engine's own records/s: HubSpot with no limit at
// the fake or in the catalog, so only Patchbay's work (and the fake's) counts.
func runEngine(ctx context.Context, o Options) ([]Row, error) {
	fakes := app.DemoFakes()
	hs := fakes["hubspot"]
	fake := fakehubspot.New(fakehubspot.Options{ClientID: hs.ClientID, ClientSecret: hs.ClientSecret, RateLimit: 1 << 30, SearchRateLimit: 1 << 30})
	hs.Handler = fake
	fakes["hubspot"] = hs
	in, err := start(ctx, setup{fakes: fakes, catalog: unlimited("hubspot")})
	if err != nil {
		return nil, err
	}
	defer in.close()
	p := providers()[0]
	conn, err := in.connectOAuth(ctx, p.id, p.account, p.config)
	if err != nil {
		return nil, err
	}
	fl, err := newFloor(in.dir, in.url+"/_fakes/hubspot", fake.IssueToken(p.account).AccessToken, p.object)
	if err != nil {
		return nil, err
	}
	defer fl.close()
	fields := make([]string, 0, len(p.fields))
	for _, f := range p.fields {
		fields = append(fields, f[0])
	}
	n := o.pick(3000, 20000)
	var rows []Row
	for _, dir := range []string{syncer.Inbound, syncer.Outbound} {
		o.progress("engine %s: %d records, no limit, and the same work raw", dir, n)
		r, err := runSync(ctx, in, p, conn, dir, n)
		if err != nil {
			return rows, err
		}
		var moved int
		var took time.Duration
		if dir == syncer.Inbound {
			moved, took, err = fl.inbound(ctx, fields)
		} else {
			moved, took, err = fl.outbound(ctx, fields)
		}
		if err != nil {
			return rows, fmt.Errorf("raw floor %s: %w", dir, err)
		}
		if moved != n {
			return rows, fmt.Errorf("raw floor %s moved %d of %d records", dir, moved, n)
		}
		rows = append(rows, Row{Part: "engine", Name: "engine " + dir + " (hubspot, no limit)", Amount: n, Took: r.elapsed,
			Rate: r.perSecond(), Unit: "records/s", Requests: -1, Floor: float64(moved) / took.Seconds()})
	}
	return rows, nil
}

// Generated is HubSpot without the records: it serves n synthetic contacts
// page by page and acknowledges writes, holding nothing, so that a run's
// memory is the engine's alone (a fake holding a million records would
// dominate the heap). Register it as "hubspot".
type Generated struct {
	*hubspot.Connector
	n int
}

// NewGenerated returns a Generated connector of n contacts.
func NewGenerated(n int) *Generated { return &Generated{Connector: hubspot.New(), n: n} }

// List serves the page after req.Cursor.
func (g *Generated) List(ctx context.Context, _ connector.Session, req connector.ListRequest) (connector.Page, error) {
	off := 0
	if req.Cursor != "" {
		off, _ = strconv.Atoi(req.Cursor)
	}
	limit := req.Limit
	if limit <= 0 {
		limit = 100
	}
	var p connector.Page
	for i := off; i < min(off+limit, g.n); i++ {
		p.Records = append(p.Records, connector.Record{ID: strconv.Itoa(i + 1),
			Fields: map[string]any{"email": email("m", i), "firstname": "Million"}, UpdatedAt: time.Unix(1_700_000_000, 0)})
	}
	if off+limit < g.n {
		p.Next = strconv.Itoa(off + limit)
	}
	return p, ctx.Err()
}

// Write acknowledges every record as created.
func (g *Generated) Write(ctx context.Context, _ connector.Session, req connector.WriteRequest) ([]connector.WriteResult, error) {
	out := make([]connector.WriteResult, len(req.Records))
	for i := range out {
		out[i] = connector.WriteResult{Index: i, ID: "w" + strconv.Itoa(i), Created: true}
	}
	return out, ctx.Err()
}

// runMemory streams a large run in and out and samples the heap: it stays
// flat because pages and batches stream.
func runMemory(ctx context.Context, o Options) ([]Row, error) {
	n := o.pick(20_000, 100_000)
	if o.Million {
		n = 1_000_000
	}
	gen := NewGenerated(n)
	reg := connector.NewRegistry()
	if err := reg.Register("hubspot", gen); err != nil {
		return nil, err
	}
	in, err := start(ctx, setup{connectors: reg, catalog: unlimited("hubspot")})
	if err != nil {
		return nil, err
	}
	defer in.close()
	p := providers()[0]
	conn, err := in.connectOAuth(ctx, p.id, p.account, p.config)
	if err != nil {
		return nil, err
	}
	p.seed = func(*instance, int) error { return nil } // gen serves the records
	var rows []Row
	for _, dir := range []string{syncer.Inbound, syncer.Outbound} {
		o.progress("memory %s: %d records", dir, n)
		var r syncRun
		base, peak, err := peakHeap(func() error {
			var err error
			r, err = runSync(ctx, in, p, conn, dir, n)
			return err
		})
		if err != nil {
			return rows, err
		}
		rows = append(rows, Row{Part: "memory", Name: "memory " + dir, Amount: n, Took: r.elapsed, Rate: r.perSecond(), Unit: "records/s",
			Requests: -1, Note: fmt.Sprintf("heap %.1f MiB before, peak %.1f MiB (+%.1f MiB) during the run of %d records",
				mib(base), mib(peak), mib(peak-min(peak, base)), n)})
	}
	return rows, nil
}

// peakHeap runs f while sampling the live heap every 10 ms; it returns the
// heap after a collection before f and the highest sample.
func peakHeap(f func() error) (base, peak uint64, err error) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base = ms.HeapAlloc
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(10 * time.Millisecond)
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
	})
	err = f()
	close(done)
	wg.Wait()
	return base, peak, err
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// runHealth sweeps 10,000 connected HubSpot connections (one account each,
// with tokens the fake issued) once, probing each over loopback HTTP.
func runHealth(ctx context.Context, o Options) ([]Row, error) {
	n := o.pick(2_000, 10_000)
	in, err := start(ctx, setup{})
	if err != nil {
		return nil, err
	}
	defer in.close()
	fake, err := fakeOf[*fakehubspot.Fake](in, "hubspot")
	if err != nil {
		return nil, err
	}
	o.progress("health: storing %d connections", n)
	now := time.Now().UTC()
	v := in.app.Vault
	err = in.app.Store.InTx(ctx, func(tx *store.Tx) error {
		for i := range n {
			acct := fmt.Sprintf("acct-%05d", i)
			tok := fake.IssueToken(acct)
			c := &store.Connection{WorkspaceID: app.DefaultWorkspace, Provider: "hubspot", Status: connection.StatusConnected, AccountID: acct,
				ScopesRequested: tok.Scopes, ScopesGranted: tok.Scopes, ConnectedAt: now, LastActivityAt: now,
				ExpiresAt: now.Add(time.Duration(tok.ExpiresIn) * time.Second)}
			if err := tx.CreateConnection(ctx, c); err != nil {
				return err
			}
			plain, _ := json.Marshal(connector.Credentials{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: c.ExpiresAt})
			sealed, err := v.Seal(plain, []byte(c.ID))
			if err != nil {
				return err
			}
			if err := tx.SaveCredential(ctx, c.ID, store.Credential{KeyID: v.CurrentKeyID(), Ciphertext: sealed}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	m, err := health.New(health.Config{Store: in.app.Store, Conns: in.app.Conns, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, err
	}
	before := fake.Stats()
	o.progress("health: sweeping %d connections", n)
	sw, err := m.Sweep(ctx)
	if err != nil {
		return nil, err
	}
	after := fake.Stats()
	row := Row{Part: "health", Name: fmt.Sprintf("health sweep of %d connections", n), Amount: sw.Probed, Took: sw.Duration,
		Rate: float64(sw.Probed) / sw.Duration.Seconds(), Unit: "probes/s", Requests: after.Calls - before.Calls,
		Beyond: after.RateLimited - before.RateLimited + after.OverLimit - before.OverLimit}
	if sw.Probed != n || sw.Green != n || sw.Failed != 0 {
		return []Row{row}, fmt.Errorf("the sweep probed %d of %d connections, %d green, %d failed", sw.Probed, n, sw.Green, sw.Failed)
	}
	return []Row{row}, nil
}

// runEnrich enriches distinct domains (no cache hits) through the data
// provider fake, at its documented 10 lookups per second and with no limit.
func runEnrich(ctx context.Context, o Options) ([]Row, error) {
	var rows []Row
	for _, limited := range []bool{true, false} {
		row, err := enrichOnce(ctx, o, limited)
		rows = append(rows, row)
		if err != nil {
			return rows, err
		}
	}
	return rows, nil
}

func enrichOnce(ctx context.Context, o Options, limited bool) (Row, error) {
	s := setup{enrich: func(c *enrich.Config) { c.Tick = 10 * time.Millisecond }}
	fake := fakedp.New(fakedp.Options{DemoKey: app.DemoDataProviderKey, Credits: 1 << 30})
	name, n := "enrichment at the provider limit", 0
	if limited {
		p := boundOf(mustProvider("dataprovider"), syncer.Inbound)
		n = int(p.perSecond * o.limitWindow().Seconds())
	} else {
		fake = fakedp.New(fakedp.Options{DemoKey: app.DemoDataProviderKey, Credits: 1 << 30, RateLimit: 1 << 30})
		s.catalog = unlimited("dataprovider")
		name, n = "enrichment, no limit", o.pick(500, 3000)
	}
	s.fakes = app.DemoFakes()
	s.fakes["dataprovider"] = app.Fake{Handler: fake}
	in, err := start(ctx, s)
	if err != nil {
		return Row{}, err
	}
	defer in.close()
	var out struct {
		Connection struct {
			ID string `json:"id"`
		} `json:"connection"`
	}
	if err := in.do(ctx, http.MethodPost, "/connections", map[string]any{"provider": "dataprovider", "api_key": app.DemoDataProviderKey,
		"config": map[string]string{"endpoint_url": in.url + "/_fakes/dataprovider"}}, &out); err != nil {
		return Row{}, err
	}
	tbl, err := in.table(ctx, "domain")
	if err != nil {
		return Row{}, err
	}
	if err := in.fillTable(ctx, tbl, n, func(i int) map[string]any { return map[string]any{"domain": fmt.Sprintf("bench%07d.example.com", i)} }); err != nil {
		return Row{}, err
	}
	ws, err := in.app.Store.GetWorkspace(ctx, app.DefaultWorkspace)
	if err != nil {
		return Row{}, err
	}
	o.progress("%s: %d lookups", name, n)
	before := fake.Stats()
	start := time.Now()
	col, err := in.app.Enricher().CreateColumn(ctx, ws, tbl, enrich.ColumnRequest{Name: "Facts", Spec: store.ActionSpec{ConnectionIDs: []string{out.Connection.ID},
		Lookup: "company_by_domain", Inputs: map[string]string{"domain": "domain"}, Outputs: map[string]string{"phone": "phone", "industry": "industry"}}})
	if err != nil {
		return Row{}, err
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		counts, err := in.app.Store.CellCounts(ctx, col.ID)
		if err != nil {
			return Row{}, err
		}
		if counts[store.CellDone]+counts[store.CellNotFound] == n {
			break
		}
		if counts[store.CellFailed] > 0 {
			return Row{}, fmt.Errorf("%s: cells %v", name, counts)
		}
		select {
		case <-ctx.Done():
			return Row{}, ctx.Err()
		case <-t.C:
		}
	}
	took := time.Since(start)
	after := fake.Stats()
	row := Row{Part: "enrich", Name: name, Amount: n, Took: took, Rate: float64(n) / took.Seconds(), Unit: "lookups/s",
		Requests: after.Calls - before.Calls, Beyond: after.RateLimited - before.RateLimited + after.OverLimit - before.OverLimit}
	if limited {
		b := boundOf(mustProvider("dataprovider"), syncer.Inbound)
		b.perRequest = 1 // one lookup a request
		row.Max = b.maxFor(n, row.Requests, took)
	}
	if row.Beyond > 0 {
		return row, fmt.Errorf("%s: the fake refused %d requests for its limit", name, row.Beyond)
	}
	return row, nil
}

func mustProvider(id string) *catalog.Provider {
	cat, err := catalog.Load()
	if err != nil {
		panic(err) // the embedded catalog is validated by its tests
	}
	p, ok := cat.Get(id)
	if !ok {
		panic("no catalog entry " + id)
	}
	return p
}

// runAPI holds a request rate of dashboard reads (`patchbay bench api`)
// against an in-process Patchbay with 50 connections.
func runAPI(ctx context.Context, o Options) ([]Row, error) {
	in, err := start(ctx, setup{})
	if err != nil {
		return nil, err
	}
	defer in.close()
	if err := loadtest.SeedDemo(ctx, in.url, token, 50); err != nil {
		return nil, err
	}
	rate, d := 500, time.Duration(o.pick(3, 15))*time.Second
	o.progress("api: %d requests/s for %s", rate, d)
	res, err := loadtest.Run(ctx, loadtest.Config{URL: in.url, Token: token, Rate: rate, Duration: d})
	if err != nil {
		return nil, err
	}
	row := Row{Part: "api", Name: fmt.Sprintf("API dashboard reads at %d/s", rate), Amount: res.Sent, Took: res.Elapsed,
		Rate: res.Throughput(), Unit: "requests/s", Requests: -1,
		Note: fmt.Sprintf("latency p50 %s, p90 %s, p99 %s, max %s; %d failed, %d dropped", res.P50.Round(10*time.Microsecond),
			res.P90.Round(10*time.Microsecond), res.P99.Round(10*time.Microsecond), res.Max.Round(10*time.Microsecond), res.Failed, res.Dropped)}
	if res.Failed > 0 || res.Dropped > 0 {
		return []Row{row}, fmt.Errorf("api: %d requests failed and %d were dropped", res.Failed, res.Dropped)
	}
	return []Row{row}, nil
}
