package mailchimp

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
	fake "patchbay/internal/fakes/mailchimp"
	"patchbay/internal/transport"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// tenv is a Mailchimp fake behind a real HTTP server. Sessions reach it
// through Patchbay's transport at http://<dc>.mc.test/3.0, a host per data
// centre as at Mailchimp: a dialer sends every *.mc.test host to the fake and
// records which hosts were asked, so tests see the data centre chosen.
type tenv struct {
	t     *testing.T
	fake  *fake.Fake
	clock *fakekit.Clock
	srv   *httptest.Server
	conn  *Connector
	ctx   context.Context

	mu    sync.Mutex
	hosts map[string]int
}

func newTenv(t *testing.T, o fake.Options) *tenv {
	t.Helper()
	clock := fakekit.NewClock(t0)
	if o.Now == nil {
		o.Now = clock.Now
	}
	f := fake.New(o)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	conn := New()
	conn.PollInterval = 5 * time.Millisecond
	e := &tenv{t: t, fake: f, clock: clock, srv: srv, conn: conn, ctx: context.Background(), hosts: map[string]int{}}
	conn.Download = &http.Client{Transport: e.base(), Timeout: time.Minute} // the results link names the fake's host too
	return e
}

// base is the fake's own transport with every *.mc.test host rerouted to it.
func (e *tenv) base() http.RoundTripper {
	target, _ := url.Parse(e.srv.URL)
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if strings.HasSuffix(req.URL.Hostname(), ".mc.test") {
			e.mu.Lock()
			e.hosts[req.URL.Hostname()]++
			e.mu.Unlock()
			req = req.Clone(req.Context())
			req.URL.Scheme, req.URL.Host = target.Scheme, target.Host
		}
		return http.DefaultTransport.RoundTrip(req)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// session is an OAuth (token) or API-key (key) session with a budget capped
// at Mailchimp's 10 simultaneous connections, as the catalog sets it.
func (e *tenv) session(creds connector.Credentials, cfg map[string]string, budget *transport.Budget) connector.Session {
	if budget == nil {
		budget = transport.NewBudgetFor(transport.Limit{Concurrency: 10})
	}
	tr := transport.New(transport.Options{Base: e.base(), Budget: budget, Retries: 2,
		Authorize: func(_ context.Context, req *http.Request) error {
			if creds.APIKey != "" {
				req.SetBasicAuth("patchbay", creds.APIKey)
			} else {
				req.Header.Set("Authorization", "OAuth "+creds.AccessToken)
			}
			return nil
		}})
	return connector.Session{HTTP: tr.Client(), BaseURL: "http://{dc}.mc.test/3.0", Creds: creds, Config: cfg,
		IdentityURL: "http://login.mc.test/oauth2/metadata"}
}

// connected is a session as the connection service hands it out after the
// connect: the endpoint Identity returned is the base URL.
func (e *tenv) connected(creds connector.Credentials, cfg map[string]string) connector.Session {
	e.t.Helper()
	s := e.session(creds, cfg, nil)
	acct, err := e.conn.Identity(e.ctx, s)
	if err != nil {
		e.t.Fatal(err)
	}
	s.BaseURL = acct.Endpoint
	return s
}

func (e *tenv) oauth(account string) connector.Credentials {
	return connector.Credentials{AccessToken: e.fake.IssueToken(account)}
}

func (e *tenv) listID(account string) string { return e.fake.Audiences(account)[0].ID }

func members(n int, mk func(i int) map[string]any) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = mk(i)
	}
	return out
}

func person(i int) map[string]any {
	return map[string]any{"email_address": fmt.Sprintf("p%04d@acme.com", i), "status": "subscribed", "FNAME": fmt.Sprint("P", i)}
}

func TestIdentityOAuthFindsTheDataCentre(t *testing.T) {
	t.Parallel()
	e := newTenv(t, fake.Options{})
	acct, err := e.conn.Identity(e.ctx, e.session(e.oauth("acct-x"), nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	dc := fake.DataCenter("acct-x")
	if acct.ID != fake.AccountID("acct-x") || acct.Email != fake.LoginEmail("acct-x") || acct.Name != fake.AccountName("acct-x") {
		t.Errorf("account = %+v", acct)
	}
	if acct.Endpoint != "http://"+dc+".mc.test/3.0" {
		t.Errorf("endpoint = %q, want the %s data centre", acct.Endpoint, dc)
	}
	if e.hosts["login.mc.test"] != 1 || e.hosts[dc+".mc.test"] != 1 {
		t.Errorf("hosts asked: %v", e.hosts)
	}
}

func TestIdentityAPIKeyUsesItsDataCentre(t *testing.T) {
	t.Parallel()
	e := newTenv(t, fake.Options{})
	key := e.fake.NewAPIKey("acct-k")
	acct, err := e.conn.Identity(e.ctx, e.session(connector.Credentials{APIKey: key}, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	dc := key[strings.LastIndexByte(key, '-')+1:]
	if acct.ID != fake.AccountID("acct-k") || acct.Endpoint != "http://"+dc+".mc.test/3.0" {
		t.Errorf("account = %+v", acct)
	}
	if e.hosts["login.mc.test"] != 0 {
		t.Error("an API key needs no metadata call")
	}
	for _, bad := range []string{"0123456789abcdef", "0123-US6!"} {
		_, err := e.conn.Identity(e.ctx, e.session(connector.Credentials{APIKey: bad}, nil, nil))
		if connector.ClassOf(err) != connector.ClassUnauthorized || !strings.Contains(err.Error(), "data centre") {
			t.Errorf("key %q: err = %v", bad, err)
		}
	}
}

func TestListMembersPagesAndIncremental(t *testing.T) {
	t.Parallel()
	e := newTenv(t, fake.Options{})
	list := e.listID("acct-demo")
	e.fake.SeedMembers("acct-demo", list, members(2300, person))
	s := e.connected(e.oauth("acct-demo"), nil) // one audience: no config needed
	before := e.fake.Stats().Calls
	req := connector.ListRequest{Object: "members"}
	seen := map[string]bool{}
	pages := 0
	for {
		p, err := e.conn.List(e.ctx, s, req)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range p.Records {
			if seen[r.ID] || r.ID != SubscriberHash(r.Fields["email_address"].(string)) {
				t.Fatalf("duplicate or bad id %s", r.ID)
			}
			seen[r.ID] = true
		}
		if p.Next == "" {
			break
		}
		req.Cursor = p.Next
	}
	// 1000 a page, plus one call to find the only audience per page.
	if len(seen) != 2300 || pages != 3 || e.fake.Stats().Calls-before != 6 {
		t.Errorf("read %d members in %d pages with %d calls", len(seen), pages, e.fake.Stats().Calls-before)
	}

	e.clock.Advance(time.Hour)
	since := e.clock.Now()
	e.fake.SeedMembers("acct-demo", list, []map[string]any{person(5), person(7), person(9000)})
	p, err := e.conn.List(e.ctx, s, connector.ListRequest{Object: "members", Since: since})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Records) != 3 || p.Next != "" || !p.Records[0].UpdatedAt.Equal(since) {
		t.Errorf("incremental page: %d records, next %q", len(p.Records), p.Next)
	}
}

func TestListOtherObjects(t *testing.T) {
	t.Parallel()
	e := newTenv(t, fake.Options{})
	second := e.fake.AddAudience("acct-demo", "Customers")
	e.fake.SeedMembers("acct-demo", second, []map[string]any{{"email_address": "a@x.com", "status": "subscribed", "tags": "vip,2026"}})
	s := e.connected(e.oauth("acct-demo"), nil)
	if _, err := e.conn.List(e.ctx, s, connector.ListRequest{Object: "members"}); connector.ClassOf(err) != connector.ClassInvalid || !strings.Contains(err.Error(), second) {
		t.Fatalf("two audiences without audience_id: %v", err)
	}
	s.Config = map[string]string{"audience_id": second}
	for obj, want := range map[string]int{"audiences": 2, "merge_fields": 5, "tags": 2, "members": 1} {
		p, err := e.conn.List(e.ctx, s, connector.ListRequest{Object: obj})
		if err != nil || len(p.Records) != want {
			t.Errorf("%s: %d records, err %v", obj, len(p.Records), err)
		}
	}
}

func TestWriteUpsertsBySubscriberHashWithoutDuplicates(t *testing.T) {
	t.Parallel()
	e := newTenv(t, fake.Options{})
	list := e.listID("acct-demo")
	e.fake.SeedMembers("acct-demo", list, []map[string]any{{"email_address": "old@acme.com", "status": "subscribed", "FNAME": "Old"}})
	s := e.connected(e.oauth("acct-demo"), nil)
	recs := []connector.Record{
		{Fields: map[string]any{"email_address": "Old@Acme.com", "FNAME": "Renamed"}},
		{Fields: map[string]any{"email_address": "new@acme.com", "LNAME": "New", "tags": "lead"}},
		{Fields: map[string]any{"FNAME": "No address"}},
	}
	for range 2 { // writing twice changes nothing more
		res, err := e.conn.Write(e.ctx, s, connector.WriteRequest{Object: "members", MatchField: "email_address", Records: recs})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Err != nil || res[1].Err != nil || connector.ClassOf(res[2].Err) != connector.ClassInvalid {
			t.Fatalf("results: %+v", res)
		}
		if res[0].ID != SubscriberHash("old@acme.com") {
			t.Errorf("id = %s", res[0].ID)
		}
	}
	got := e.fake.Members("acct-demo", list)
	if len(got) != 2 {
		t.Fatalf("members = %+v", got)
	}
	byEmail := map[string]fakekit.Record{}
	for _, m := range got {
		byEmail[m.Fields["email_address"]] = m
	}
	if byEmail["Old@Acme.com"].Fields["FNAME"] != "Renamed" || byEmail["new@acme.com"].Fields["tags"] != "lead" || byEmail["new@acme.com"].Fields["status"] != "subscribed" {
		t.Errorf("members = %+v", byEmail)
	}
}

func TestWriteLargePushGoesAsOneBatch(t *testing.T) {
	t.Parallel()
	e := newTenv(t, fake.Options{})
	list := e.listID("acct-demo")
	s := e.connected(e.oauth("acct-demo"), nil)
	recs := make([]connector.Record, 500) // the catalog's batch size
	for i := range recs {
		recs[i] = connector.Record{Fields: person(i)}
	}
	recs[7].Fields["COMPANY"] = "not a merge field of this audience"
	recs[9].Fields["tags"] = "vip"
	before := e.fake.Stats().Calls
	res, err := e.conn.Write(e.ctx, s, connector.WriteRequest{Object: "members", MatchField: "email_address", Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if (i == 7) != (r.Err != nil) {
			t.Fatalf("record %d: %v", i, r.Err)
		}
	}
	if connector.ClassOf(res[7].Err) != connector.ClassInvalid || !strings.Contains(res[7].Err.Error(), "COMPANY") {
		t.Errorf("record 7: %v", res[7].Err)
	}
	// audience lookup, POST /batches, two status reads; results come from storage.
	if n := e.fake.Stats().Calls - before; n != 4 {
		t.Errorf("%d API calls for a 500-record push", n)
	}
	if got := e.fake.Members("acct-demo", list); len(got) != 499 {
		t.Errorf("%d members stored", len(got))
	}
	if m, _ := e.fake.Kit().Records("acct-demo", "members:"+list).Get(SubscriberHash("p0009@acme.com")); m.Fields["tags"] != "vip" {
		t.Errorf("tags not written in the batch: %+v", m)
	}
}

func TestConcurrencyStaysWithinTen(t *testing.T) {
	t.Parallel()
	e := newTenv(t, fake.Options{Latency: 20 * time.Millisecond})
	s := e.connected(e.oauth("acct-demo"), map[string]string{"audience_id": e.listID("acct-demo")})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			recs := make([]connector.Record, 10)
			for i := range recs {
				recs[i] = connector.Record{Fields: person(w*100 + i)}
			}
			res, err := e.conn.Write(e.ctx, s, connector.WriteRequest{Object: "members", Records: recs})
			if err == nil {
				for _, r := range res {
					err = cmpErr(err, r.Err)
				}
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	c := e.fake.Concurrency()
	if c.MaxInFlight > fake.MaxConnections || c.Refused != 0 || c.MaxInFlight < 5 {
		t.Errorf("concurrency: %+v (want parallel calls, never more than %d)", c, fake.MaxConnections)
	}
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	e := newTenv(t, fake.Options{MaxConnections: 1, Latency: 30 * time.Millisecond})
	s := e.connected(e.oauth("acct-demo"), nil)
	list := connector.ListRequest{Object: "audiences"}
	cases := []struct {
		name  string
		setup func() connector.Session
		want  connector.Class
		code  string
	}{
		{"401 unknown key", func() connector.Session {
			bad := s
			bad.Creds = connector.Credentials{APIKey: "nope-us1"}
			bad.HTTP = e.session(bad.Creds, nil, nil).HTTP
			return bad
		}, connector.ClassUnauthorized, "API Key Invalid"},
		{"401 revoked token", func() connector.Session {
			bad := s
			bad.Creds = connector.Credentials{AccessToken: "revoked-token"}
			bad.HTTP = e.session(bad.Creds, nil, nil).HTTP
			return bad
		}, connector.ClassRevoked, "API Key Invalid"},
		{"403 disabled account", func() connector.Session { e.fake.Suspend("acct-demo", true); return s }, connector.ClassSuspended, "User Disabled"},
		{"404 unknown audience", func() connector.Session {
			e.fake.Suspend("acct-demo", false)
			nf := s
			nf.Config = map[string]string{"audience_id": "00000000ff"}
			return nf
		}, connector.ClassNotFound, "Resource Not Found"},
	}
	for _, tc := range cases {
		sess := tc.setup()
		req := list
		if tc.want == connector.ClassNotFound {
			req = connector.ListRequest{Object: "members"}
		}
		_, err := e.conn.List(e.ctx, sess, req)
		if connector.ClassOf(err) != tc.want || !strings.Contains(err.Error(), tc.code) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}

	// 429: more simultaneous calls than the account allows, from a client
	// without the cap and without retries.
	tr := transport.New(transport.Options{Base: e.base(), Budget: transport.NewBudget(0, 0), Retries: -1,
		Authorize: func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "OAuth "+s.Creds.AccessToken)
			return nil
		}})
	greedy := s
	greedy.HTTP = tr.Client()
	var wg sync.WaitGroup
	classes := make(chan connector.Class, 4)
	for range 4 {
		wg.Go(func() {
			_, err := e.conn.List(e.ctx, greedy, list)
			classes <- connector.ClassOf(err)
		})
	}
	wg.Wait()
	close(classes)
	limited := 0
	for c := range classes {
		if c == connector.ClassRateLimited {
			limited++
		}
	}
	if limited == 0 || e.fake.Concurrency().Refused == 0 {
		t.Errorf("no 429 for 4 simultaneous calls with a limit of 1")
	}

	e.fake.Kit().SetOutage(true)
	_, err := e.conn.List(e.ctx, s, list)
	if connector.ClassOf(err) != connector.ClassUnavailable {
		t.Errorf("outage: %v", err)
	}
}
