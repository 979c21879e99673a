package shopify

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"patchbay/internal/connector"
	"patchbay/internal/fakes/fakekit"
	fake "patchbay/internal/fakes/shopify"
	"patchbay/internal/transport"
)

const (
	shop   = "acme.myshopify.com"
	secret = "shpss_test_secret"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type tenv struct {
	t     *testing.T
	fake  *fake.Fake
	clock *fakekit.Clock
	srv   *httptest.Server
	conn  *Connector
	ctx   context.Context
}

func newTenv(t *testing.T, o fake.Options) *tenv {
	t.Helper()
	clock := fakekit.NewClock(t0)
	o.Now, o.ClientSecret, o.DefaultAccount = clock.Now, secret, shop
	f := fake.New(o)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return &tenv{t: t, fake: f, clock: clock, srv: srv, conn: New(), ctx: context.Background()}
}

// session talks to the store through Patchbay's transport with the token in
// X-Shopify-Access-Token; meter is the cost bucket (nil: none).
func (e *tenv) session(token string, meter connector.CostMeter) connector.Session {
	tr := transport.New(transport.Options{Budget: transport.NewBudget(0, 0), Retries: 1,
		Authorize: func(_ context.Context, req *http.Request) error {
			req.Header.Set("X-Shopify-Access-Token", token)
			return nil
		}})
	return connector.Session{HTTP: tr.Client(), BaseURL: e.srv.URL + catalogAPIPath(e.t), Meter: meter,
		Creds: connector.Credentials{AccessToken: token}, Config: map[string]string{"shop": shop}}
}

// standard is a session with the documented standard-plan bucket.
func (e *tenv) standard() connector.Session {
	return e.session(e.fake.IssueToken(shop), transport.NewCostBucket(fake.DefaultBucket, fake.DefaultRestore))
}

func (e *tenv) seed(object string, n int, mk func(i int) map[string]any) []fakekit.Record {
	recs := make([]map[string]any, n)
	for i := range recs {
		recs[i] = mk(i)
	}
	return e.fake.SeedRecords(shop, object, recs)
}

func customer(i int) map[string]any {
	return map[string]any{"email": fmt.Sprintf("c%03d@acme.com", i), "firstName": fmt.Sprint("C", i), "tags": "vip,2026"}
}

func (e *tenv) readAll(s connector.Session, req connector.ListRequest) []connector.Record {
	e.t.Helper()
	var all []connector.Record
	for {
		p, err := e.conn.List(e.ctx, s, req)
		if err != nil {
			e.t.Fatal(err)
		}
		all = append(all, p.Records...)
		if p.Next == "" {
			return all
		}
		req.Cursor = p.Next
	}
}

func TestIdentity(t *testing.T) {
	t.Parallel()
	e := newTenv(t, fake.Options{})
	acct, err := e.conn.Identity(e.ctx, e.standard())
	if err != nil {
		t.Fatal(err)
	}
	if acct.ID != shop || acct.Name != "acme" || acct.Email != fake.ShopEmail(shop) {
		t.Errorf("account = %+v", acct)
	}
}

func TestListPagesAndIncremental(t *testing.T) {
	t.Parallel()
	e := newTenv(t, fake.Options{})
	seeded := e.seed("customers", 600, customer)
	s := e.standard()
	before := e.fake.Stats().Calls
	all := e.readAll(s, connector.ListRequest{Object: "customers", Limit: 250})
	seen := map[string]bool{}
	for _, r := range all {
		seen[r.ID] = true
	}
	if len(all) != 600 || len(seen) != 600 || e.fake.Stats().Calls-before != 3 {
		t.Fatalf("read %d (%d distinct) in %d calls", len(all), len(seen), e.fake.Stats().Calls-before)
	}
	if r := all[0]; r.ID != "gid://shopify/Customer/"+seeded[0].ID || r.Fields["email"] != "c000@acme.com" || r.Fields["tags"] != "vip,2026" || !r.UpdatedAt.Equal(t0) {
		t.Errorf("first record = %+v", r)
	}

	e.clock.Advance(time.Hour)
	since := e.clock.Now()
	e.fake.SeedRecords(shop, "customers", []map[string]any{
		{"id": seeded[10].ID, "fields": map[string]any{"email": "changed@acme.com"}},
		{"id": seeded[500].ID, "fields": map[string]any{"email": "changed2@acme.com"}},
	})
	changed := e.readAll(s, connector.ListRequest{Object: "customers", Since: since, Limit: 1})
	if len(changed) != 2 || changed[0].Fields["email"] != "changed@acme.com" {
		t.Errorf("incremental: %+v", changed)
	}
	if st := e.fake.CostStats(); st.Throttled != 0 {
		t.Errorf("throttled %d times", st.Throttled)
	}
}

func TestOrdersAndProducts(t *testing.T) {
	t.Parallel()
	e := newTenv(t, fake.Options{})
	e.seed("orders", 3, func(i int) map[string]any {
		return map[string]any{"name": fmt.Sprintf("#10%02d", i), "totalPrice": "19.90", "currencyCode": "EUR", "customerId": "gid://shopify/Customer/101"}
	})
	e.seed("products", 2, func(i int) map[string]any {
		return map[string]any{"title": fmt.Sprint("Mug ", i), "totalInventory": "7"}
	})
	s := e.standard()
	orders := e.readAll(s, connector.ListRequest{Object: "orders"})
	if len(orders) != 3 || orders[0].Fields["totalPrice"] != "19.90" || orders[0].Fields["customerId"] != "gid://shopify/Customer/101" || orders[0].Fields["currencyCode"] != "EUR" {
		t.Errorf("orders = %+v", orders)
	}
	products := e.readAll(s, connector.ListRequest{Object: "products"})
	if len(products) != 2 || products[1].Fields["handle"] != "mug-1" || products[1].Fields["totalInventory"] != float64(7) {
		t.Errorf("products = %+v", products)
	}
}

func TestWriteBatchMatchesByEmail(t *testing.T) {
	t.Parallel()
	e := newTenv(t, fake.Options{})
	existing := e.seed("customers", 3, customer)
	s := e.standard()
	recs := make([]connector.Record, 10) // the catalog's batch size
	for i := range recs {
		recs[i] = connector.Record{Fields: map[string]any{"email": fmt.Sprintf("c%03d@acme.com", i), "lastName": "Batch", "tags": "pushed"}}
	}
	recs[9].Fields["email"] = "not an address"
	for round := range 2 {
		before := e.fake.Stats().Calls
		res, err := e.conn.Write(e.ctx, s, connector.WriteRequest{Object: "customers", MatchField: "email", Records: recs})
		if err != nil {
			t.Fatal(err)
		}
		if n := e.fake.Stats().Calls - before; n != 2 {
			t.Errorf("round %d: %d calls, want one lookup and one mutation", round, n)
		}
		for i, r := range res[:9] {
			wantCreated := round == 0 && i >= 3
			if r.Err != nil || r.Created != wantCreated || !strings.HasPrefix(r.ID, "gid://shopify/Customer/") {
				t.Errorf("round %d record %d: %+v", round, i, r)
			}
		}
		if connector.ClassOf(res[9].Err) != connector.ClassInvalid || !strings.Contains(res[9].Err.Error(), "Email is invalid") {
			t.Errorf("invalid e-mail: %v", res[9].Err)
		}
		if res[0].ID != "gid://shopify/Customer/"+existing[0].ID {
			t.Errorf("existing customer not matched: %s", res[0].ID)
		}
	}
	got := e.fake.Records(shop, "customers")
	if len(got) != 9 || got[0].Fields["lastName"] != "Batch" || got[0].Fields["firstName"] != "C0" {
		t.Errorf("store holds %d customers: %+v", len(got), got[0])
	}
	_, err := e.conn.Write(e.ctx, s, connector.WriteRequest{Object: "customers", Records: []connector.Record{{ID: "999999", Fields: map[string]any{"note": "x"}}}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	e := newTenv(t, fake.Options{})
	list := connector.ListRequest{Object: "customers"}
	ordersOnly := e.session(e.fake.IssueToken(shop, "read_customers"), nil)
	wrongVersion := e.standard()
	wrongVersion.BaseURL = e.srv.URL + "/admin/api/2019-13" // no such version (a retired one falls forward)
	noMeter := e.session(e.fake.IssueToken(shop), nil)
	cases := []struct {
		name string
		run  func() error
		want connector.Class
	}{
		// Offline tokens do not expire: a refused one was revoked.
		{"401", func() error { _, err := e.conn.List(e.ctx, e.session("shpat_unknown", nil), list); return err }, connector.ClassRevoked},
		{"403 scope", func() error {
			_, err := e.conn.List(e.ctx, ordersOnly, connector.ListRequest{Object: "orders"})
			var ce *connector.Error
			if err != nil && (!asErr(err, &ce) || ce.Scope != "read_orders") {
				return fmt.Errorf("scope not named: %w", err)
			}
			return err
		}, connector.ClassForbidden},
		{"404", func() error { _, err := e.conn.List(e.ctx, wrongVersion, list); return err }, connector.ClassNotFound},
		{"429 throttled", func() error {
			e.fake.SetCost(50, 1)
			defer e.fake.SetCost(fake.DefaultBucket, fake.DefaultRestore)
			_, err := e.conn.List(e.ctx, noMeter, connector.ListRequest{Object: "customers", Limit: 100})
			return err
		}, connector.ClassRateLimited},
		{"5xx", func() error {
			e.fake.Kit().SetOutage(true)
			defer e.fake.Kit().SetOutage(false)
			_, err := e.conn.List(e.ctx, noMeter, list)
			return err
		}, connector.ClassUnavailable},
	}
	for _, tc := range cases {
		if err := tc.run(); connector.ClassOf(err) != tc.want {
			t.Errorf("%s: err = %v, want class %s", tc.name, err, tc.want)
		}
	}
}

func asErr(err error, ce **connector.Error) bool {
	c, ok := err.(*connector.Error)
	*ce = c
	return ok
}

// TestCostPacing reads three objects at once through one connection's cost
// meter, with a bucket far smaller than the reads cost: the meter makes them
// wait, the store never throttles.
func TestCostPacing(t *testing.T) {
	t.Parallel()
	e := newTenv(t, fake.Options{Bucket: 100, Restore: 400})
	for _, obj := range []string{"customers", "orders", "products"} {
		e.seed(obj, 60, customer)
	}
	meter := transport.NewCostBucket(100, 400) // what the store's plan documents
	s := e.session(e.fake.IssueToken(shop), meter)
	var wg sync.WaitGroup
	counts := make(chan int, 3)
	for _, obj := range []string{"customers", "orders", "products"} {
		wg.Go(func() { counts <- len(e.readAll(s, connector.ListRequest{Object: obj, Limit: 10})) })
	}
	wg.Wait()
	close(counts)
	for n := range counts {
		if n != 60 {
			t.Errorf("read %d records", n)
		}
	}
	st := e.fake.CostStats()
	// 18 pages cost 516 points, five times the bucket.
	if st.Throttled != 0 || st.Queries != 18 || st.Points < 516 {
		t.Errorf("cost stats: %+v", st)
	}
}

// TestThrottledIsWaitedOut: a meter that believes in a bigger bucket than the
// store has meets THROTTLED, learns from throttleStatus and finishes the read.
func TestThrottledIsWaitedOut(t *testing.T) {
	t.Parallel()
	e := newTenv(t, fake.Options{Bucket: 30, Restore: 200})
	e.seed("customers", 40, customer)
	s := e.session(e.fake.IssueToken(shop), transport.NewCostBucket(fake.DefaultBucket, fake.DefaultRestore))
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if n := len(e.readAll(s, connector.ListRequest{Object: "customers", Limit: 8})); n != 40 {
				t.Errorf("read %d", n)
			}
		})
	}
	wg.Wait()
	if st := e.fake.CostStats(); st.Throttled == 0 || st.Throttled > 6 {
		t.Errorf("throttled %d times: the meter should learn the bucket at once", st.Throttled)
	}
}

func TestCallbackHMAC(t *testing.T) {
	t.Parallel()
	c := New()
	q := url.Values{"code": {"abc"}, "shop": {shop}, "state": {"xyz"}, "timestamp": {"1337178173"}, "host": {"YWRtaW4"}}
	q.Set("hmac", fake.Sign(q, secret))
	cfg := map[string]string{"shop": shop}
	if err := c.VerifyCallback(q, secret, cfg); err != nil {
		t.Fatalf("valid redirect refused: %v", err)
	}
	tamper := func(k, v string) url.Values {
		t := url.Values{}
		for key, vals := range q {
			t[key] = append([]string(nil), vals...)
		}
		t.Set(k, v)
		return t
	}
	for name, bad := range map[string]url.Values{
		"code changed": tamper("code", "stolen"),
		"shop changed": tamper("shop", "evil.myshopify.com"),
		"no hmac":      tamper("hmac", ""),
		"wrong secret": tamper("hmac", fake.Sign(q, "other")),
		"not a store":  tamper("shop", "evil.example.com"),
	} {
		if err := c.VerifyCallback(bad, secret, cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestWebhookHMAC(t *testing.T) {
	t.Parallel()
	c := New()
	body := []byte(`{"myshopify_domain":"acme.myshopify.com"}`)
	h := http.Header{}
	h.Set("X-Shopify-Topic", "app/uninstalled")
	h.Set("X-Shopify-Shop-Domain", shop)
	h.Set("X-Shopify-Hmac-Sha256", fake.SignWebhook(body, secret))
	ev, err := c.VerifyWebhook(h, body, secret)
	if err != nil || !ev.Revoked || ev.Account != shop || ev.Topic != "app/uninstalled" {
		t.Fatalf("event = %+v, err %v", ev, err)
	}
	if _, err := c.VerifyWebhook(h, append(body, ' '), secret); err == nil {
		t.Error("tampered body accepted")
	}
	if _, err := c.VerifyWebhook(h, body, "other-secret"); err == nil {
		t.Error("wrong secret accepted")
	}
}

func TestRevokeUninstalls(t *testing.T) {
	t.Parallel()
	e := newTenv(t, fake.Options{})
	s := e.standard()
	if err := e.conn.Revoke(e.ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, err := e.conn.Identity(e.ctx, s); connector.ClassOf(err) != connector.ClassRevoked {
		t.Errorf("token still works after revoke: %v", err)
	}
	if err := e.conn.Revoke(e.ctx, s); err != nil {
		t.Errorf("second revoke: %v", err)
	}
}
