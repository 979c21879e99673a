package bench

import (
	"context"
	"fmt"
	"time"

	"patchbay/internal/catalog"
	fakeairtable "patchbay/internal/fakes/airtable"
	fakehubspot "patchbay/internal/fakes/hubspot"
	fakemailchimp "patchbay/internal/fakes/mailchimp"
	fakesalesforce "patchbay/internal/fakes/salesforce"
	fakeshopify "patchbay/internal/fakes/shopify"
	"patchbay/internal/store"
	"patchbay/internal/syncer"
)

// Shopify's documented query costs (the connector computes the same): a page
// of customers costs 2 plus 1 per node, a customer mutation 10.
const (
	shopifyPageCost     = 2.0
	shopifyNodeCost     = 1.0
	shopifyMutationCost = 10.0
)

// provider is how the suite drives one provider: how to connect, what to
// seed at the fake, which object and fields a sync moves, and how the fake
// counts requests beyond its limit.
type provider struct {
	id      string
	account string
	config  map[string]string
	// object is the sync's object; it may depend on the account (Airtable's base).
	object string
	// fields: the provider field and table column pairs of both directions.
	fields [][2]string
	// prepare, when set, readies the fake's account after the connection is made.
	prepare func(in *instance) error
	// seed stores n records at the fake for an inbound run.
	seed func(in *instance, n int) error
	// row is row i of an outbound run, keyed by table column.
	row func(i int) map[string]any
	// beyond counts the fake's refusals for any of its limits, and calls its API requests.
	beyond func(in *instance) (refused, calls int64, err error)
}

func providers() []provider {
	atBase := fakeairtable.BaseID("acct-bench", 1)
	const shop = "bench-store.myshopify.com"
	return []provider{
		{id: "hubspot", account: "acct-bench", object: "contacts", fields: [][2]string{{"email", "email"}, {"firstname", "first"}},
			seed: func(in *instance, n int) error {
				f, err := fakeOf[*fakehubspot.Fake](in, "hubspot")
				if err != nil {
					return err
				}
				_, err = f.SeedRecords("acct-bench", "contacts", records(n, "email", "firstname"))
				return err
			},
			row: func(i int) map[string]any { return map[string]any{"email": email("o", i), "first": "Out"} },
			beyond: func(in *instance) (int64, int64, error) {
				f, err := fakeOf[*fakehubspot.Fake](in, "hubspot")
				if err != nil {
					return 0, 0, err
				}
				s := f.Stats()
				return s.RateLimited + s.OverLimit, s.Calls, nil
			}},
		{id: "salesforce", account: "org-bench", object: "Contact", fields: [][2]string{{"Email", "email"}, {"LastName", "last"}},
			seed: func(in *instance, n int) error {
				f, err := fakeOf[*fakesalesforce.Fake](in, "salesforce")
				if err != nil {
					return err
				}
				_, err = f.SeedRecords("org-bench", "Contact", records(n, "Email", "LastName"))
				return err
			},
			row: func(i int) map[string]any { return map[string]any{"email": email("o", i), "last": "Out"} },
			beyond: func(in *instance) (int64, int64, error) {
				f, err := fakeOf[*fakesalesforce.Fake](in, "salesforce")
				if err != nil {
					return 0, 0, err
				}
				s := f.Stats()
				return s.RateLimited + s.OverLimit, s.Calls, nil
			}},
		{id: "airtable", account: "acct-bench", config: map[string]string{"base_ids": atBase}, object: "Contacts",
			fields: [][2]string{{"Email", "email"}, {"Name", "name"}},
			seed: func(in *instance, n int) error {
				f, err := fakeOf[*fakeairtable.Fake](in, "airtable")
				if err != nil {
					return err
				}
				_, err = f.SeedRecords("acct-bench", atBase, "Contacts", records(n, "Email", "Name"))
				return err
			},
			row: func(i int) map[string]any { return map[string]any{"email": email("o", i), "name": "Out"} },
			beyond: func(in *instance) (int64, int64, error) {
				f, err := fakeOf[*fakeairtable.Fake](in, "airtable")
				if err != nil {
					return 0, 0, err
				}
				s := f.Stats()
				return s.RateLimited + s.OverLimit, s.Calls, nil
			}},
		{id: "shopify", account: shop, config: map[string]string{"shop": shop}, object: "customers",
			fields: [][2]string{{"email", "email"}, {"firstName", "first"}},
			seed: func(in *instance, n int) error {
				f, err := fakeOf[*fakeshopify.Fake](in, "shopify")
				if err != nil {
					return err
				}
				f.SeedRecords(shop, "customers", records(n, "email", "firstName"))
				return nil
			},
			row: func(i int) map[string]any { return map[string]any{"email": email("o", i), "first": "Out"} },
			beyond: func(in *instance) (int64, int64, error) {
				f, err := fakeOf[*fakeshopify.Fake](in, "shopify")
				if err != nil {
					return 0, 0, err
				}
				s, c := f.Stats(), f.CostStats()
				return s.RateLimited + s.OverLimit + c.Throttled, s.Calls, nil
			}},
		{id: "mailchimp", account: "acct-bench", object: "members", fields: [][2]string{{"email_address", "email"}, {"FNAME", "first"}},
			prepare: func(in *instance) error {
				f, err := fakeOf[*fakemailchimp.Fake](in, "mailchimp")
				if err != nil {
					return err
				}
				if len(f.Audiences("acct-bench")) == 0 {
					f.AddAudience("acct-bench", "Bench")
				}
				return nil
			},
			seed: func(in *instance, n int) error {
				f, err := fakeOf[*fakemailchimp.Fake](in, "mailchimp")
				if err != nil {
					return err
				}
				lists := f.Audiences("acct-bench")
				if len(lists) != 1 {
					return fmt.Errorf("mailchimp fake: %d audiences, want 1", len(lists))
				}
				recs := records(n, "email_address", "FNAME")
				for _, r := range recs {
					r["status"] = "subscribed"
				}
				f.SeedMembers("acct-bench", lists[0].ID, recs)
				return nil
			},
			row: func(i int) map[string]any { return map[string]any{"email": email("o", i), "first": "Out"} },
			beyond: func(in *instance) (int64, int64, error) {
				f, err := fakeOf[*fakemailchimp.Fake](in, "mailchimp")
				if err != nil {
					return 0, 0, err
				}
				s, c := f.Stats(), f.Concurrency()
				return s.RateLimited + s.OverLimit + c.Refused, s.Calls, nil
			}},
	}
}

func email(prefix string, i int) string { return fmt.Sprintf("%s%07d@bench.example.com", prefix, i) }

// records are n synthetic records with an e-mail address and a name.
func records(n int, emailField, nameField string) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{emailField: email("b", i), nameField: fmt.Sprintf("Bench%d", i)}
	}
	return out
}

// bound is the limit-bound maximum of a provider in one direction.
type bound struct {
	perRequest int     // records per request (page or batch size)
	perSecond  float64 // requests per second the documented limit allows, sustained
	// cost-metered providers: points one request costs, and the bucket.
	cost, bucket, restore float64
	daily                 bool // the limit is a daily quota: no short run is bound by it
	requests              int  // the documented limit: requests per period
	period                time.Duration
}

// recordsPerSecond is the most records a run of length d may move at the
// documented rate sustained: requests per second times records per request;
// for a cost bucket, what the full bucket plus its refill over d pay for.
func (b bound) recordsPerSecond(d time.Duration) float64 {
	if b.cost > 0 {
		return (b.bucket + b.restore*d.Seconds()) / b.cost * float64(b.perRequest) / d.Seconds()
	}
	return b.perSecond * float64(b.perRequest)
}

// maxFor is the limit-bound maximum of a run that moved records with
// requests in d. A rolling window of N requests per P lets the first N go at
// once, the next N one window later, and so on, so those requests need at
// least ⌊(requests−1)/N⌋ × P; the maximum is the records over that time. It
// is 0 when the requests fit one window (the limit did not bind the run). A
// cost bucket is bound by what it pays for over d.
func (b bound) maxFor(records int, requests int64, d time.Duration) float64 {
	if b.cost > 0 {
		return b.recordsPerSecond(d)
	}
	if b.requests <= 0 || requests <= int64(b.requests) {
		return 0
	}
	least := time.Duration((requests-1)/int64(b.requests)) * b.period
	return float64(records) / least.Seconds()
}

// boundOf reads the limit-bound maximum off the catalog entry.
func boundOf(p *catalog.Provider, direction string) bound {
	rl := p.RateLimit
	b := bound{perRequest: p.PageSize, perSecond: float64(rl.Requests) / rl.PeriodDuration().Seconds(), daily: rl.PeriodDuration() >= 24*time.Hour,
		requests: rl.Requests, period: rl.PeriodDuration()}
	if direction == syncer.Outbound {
		b.perRequest = p.BatchSize
	}
	if c := rl.Cost; c != nil {
		b.bucket, b.restore = c.Bucket, c.RestorePerSecond
		b.cost = shopifyPageCost + shopifyNodeCost*float64(p.PageSize)
		if direction == syncer.Outbound {
			b.cost = shopifyMutationCost * float64(p.BatchSize)
		}
	}
	return b
}

// sizeFor is how many records keep a limit-bound run busy for about d (at
// least a few requests), capped for providers the limit does not bind in d.
func sizeFor(b bound, d time.Duration, limit int) int {
	if b.daily {
		return limit
	}
	n := b.recordsPerSecond(d) * d.Seconds()
	return max(min(int(n), limit), 3*b.perRequest)
}

// syncRun is one timed sync run.
type syncRun struct {
	records int
	elapsed time.Duration
}

func (r syncRun) perSecond() float64 { return float64(r.records) / r.elapsed.Seconds() }

// runSync creates a sync of the provider's object over a new table and runs it once.
func runSync(ctx context.Context, in *instance, p provider, conn, direction string, n int) (syncRun, error) {
	cols := make([]string, 0, len(p.fields))
	for _, f := range p.fields {
		cols = append(cols, f[1])
	}
	tbl, err := in.table(ctx, cols...)
	if err != nil {
		return syncRun{}, err
	}
	y := &store.Sync{ConnectionID: conn, TableID: tbl, Direction: direction, Object: p.object}
	for _, f := range p.fields {
		if direction == syncer.Inbound {
			y.Mapping = append(y.Mapping, store.Mapping{Source: f[0], Target: f[1]})
		} else {
			y.Mapping = append(y.Mapping, store.Mapping{Source: f[1], Target: f[0]})
		}
	}
	if direction == syncer.Outbound {
		y.MatchKey = syncer.MatchExternalID
		if err := in.fillTable(ctx, tbl, n, p.row); err != nil {
			return syncRun{}, err
		}
	} else if err := p.seed(in, n); err != nil {
		return syncRun{}, err
	}
	if err := in.createSync(ctx, y); err != nil {
		return syncRun{}, err
	}
	start := time.Now()
	res, err := in.app.Engine().Run(ctx, y.ID, syncer.Options{})
	elapsed := time.Since(start)
	if err != nil {
		return syncRun{}, fmt.Errorf("%s %s run: %w", p.id, direction, err)
	}
	if done := res.Run.Created + res.Run.Updated; done != n || res.Run.Failed > 0 {
		return syncRun{}, fmt.Errorf("%s %s run moved %d of %d records (%d failed): %+v", p.id, direction, done, n, res.Run.Failed, res.Run.RowErrors)
	}
	return syncRun{records: n, elapsed: elapsed}, nil
}
