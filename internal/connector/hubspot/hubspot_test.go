package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"patchbay/internal/connector"
	"patchbay/internal/fakes/fakekit"
	fake "patchbay/internal/fakes/hubspot"
	"patchbay/internal/transport"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// tenv is a HubSpot fake behind a real HTTP server and a Session that talks
// to it through Patchbay's transport.
type tenv struct {
	t     *testing.T
	fake  *fake.Fake
	clock *fakekit.Clock
	srv   *httptest.Server
	sess  connector.Session
	conn  *Connector
	ctx   context.Context
}

type envOptions struct {
	fake   fake.Options
	scopes []string
	budget *transport.Budget
}

func newTenv(t *testing.T, o envOptions) *tenv {
	t.Helper()
	clock := fakekit.NewClock(t0)
	if o.fake.Now == nil {
		o.fake.Now = clock.Now
	}
	f := fake.New(o.fake)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	ts := f.IssueToken("acct-demo", o.scopes...)
	if o.budget == nil {
		o.budget = transport.NewBudget(0, 0) // unlimited: the fake's own limit is what these tests exercise
	}
	creds := connector.Credentials{AccessToken: ts.AccessToken, RefreshToken: ts.RefreshToken}
	tr := transport.New(transport.Options{
		Budget:  o.budget,
		Retries: 1,
		Authorize: func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+creds.AccessToken)
			return nil
		},
	})
	return &tenv{t: t, fake: f, clock: clock, srv: srv, conn: New(), ctx: context.Background(),
		sess: connector.Session{HTTP: tr.Client(), BaseURL: srv.URL, Creds: creds}}
}

// control posts to the fake's control surface, as a test script would.
func (e *tenv) control(path string, body any) {
	e.t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(e.srv.URL+"/_control/"+path, "application/json", bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		e.t.Fatalf("control %s: %d", path, resp.StatusCode)
	}
}

func (e *tenv) seedContacts(n int, mk func(i int) map[string]any) {
	e.t.Helper()
	recs := make([]map[string]any, n)
	for i := range recs {
		recs[i] = mk(i)
	}
	if _, err := e.fake.SeedRecords("acct-demo", "contacts", recs); err != nil {
		e.t.Fatal(err)
	}
}

func (e *tenv) calls() int64 { return e.fake.Stats().Accounts["acct-demo"].Calls }

func contact(i int) map[string]any {
	return map[string]any{"email": fmt.Sprintf("p%03d@acme.com", i), "firstname": fmt.Sprint("P", i)}
}

func TestIdentity(t *testing.T) {
	t.Parallel()
	e := newTenv(t, envOptions{scopes: []string{"oauth", "crm.objects.contacts.read"}})
	acct, err := e.conn.Identity(e.ctx, e.sess)
	if err != nil {
		t.Fatal(err)
	}
	want := connector.Account{ID: strconv.FormatInt(fake.HubID("acct-demo"), 10), Name: fake.HubDomain("acct-demo"), Email: fake.UserEmail("acct-demo")}
	if acct.ID != want.ID || acct.Name != want.Name || acct.Email != want.Email || strings.Join(acct.Scopes, " ") != "oauth crm.objects.contacts.read" {
		t.Errorf("account = %+v, want %+v", acct, want)
	}
}

func TestListPages(t *testing.T) {
	t.Parallel()
	e := newTenv(t, envOptions{})
	e.seedContacts(250, contact)
	before := e.calls()
	var got []connector.Record
	req := connector.ListRequest{Object: "contacts", Limit: 100, Fields: []string{"email", "phone"}}
	pages := 0
	for {
		page, err := e.conn.List(e.ctx, e.sess, req)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, page.Records...)
		if page.Next == "" {
			break
		}
		req.Cursor = page.Next
	}
	if pages != 3 || len(got) != 250 || e.calls()-before != 3 {
		t.Fatalf("pages %d records %d requests %d", pages, len(got), e.calls()-before)
	}
	first := got[0]
	if first.Fields["email"] != "p000@acme.com" || first.Fields["phone"] != nil || !first.UpdatedAt.Equal(t0) {
		t.Errorf("first = %+v", first)
	}
	if _, ok := first.Fields["phone"]; !ok {
		t.Error("an empty requested property is a nil field, not a missing one")
	}
	seen := map[string]bool{}
	for _, r := range got {
		if seen[r.ID] {
			t.Fatalf("duplicate id %s", r.ID)
		}
		seen[r.ID] = true
	}
}

func TestListSince(t *testing.T) {
	t.Parallel()
	e := newTenv(t, envOptions{})
	e.seedContacts(5, contact) // all at t0
	e.clock.Advance(10 * time.Minute)
	since := e.clock.Now()
	e.clock.Advance(time.Minute)
	// Touch two contacts later, the second one first.
	if _, err := e.fake.SeedRecords("acct-demo", "contacts", []map[string]any{{"id": "104", "email": "p003@acme.com", "segment": "SMB"}}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	if _, err := e.fake.SeedRecords("acct-demo", "contacts", []map[string]any{{"id": "102", "email": "p001@acme.com", "segment": "Enterprise"}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		limit     int
		wantPages int
	}{{"one page", 0, 1}, {"page by page", 1, 2}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := connector.ListRequest{Object: "contacts", Since: since, Limit: c.limit, Fields: []string{"email", "segment"}}
			var ids []string
			pages := 0
			for {
				page, err := e.conn.List(e.ctx, e.sess, req)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				for _, r := range page.Records {
					ids = append(ids, r.ID)
				}
				if page.Next == "" {
					break
				}
				req.Cursor = page.Next
			}
			if strings.Join(ids, ",") != "104,102" || pages != c.wantPages {
				t.Errorf("ids %v in %d pages; want oldest change first, 104,102 in %d", ids, pages, c.wantPages)
			}
		})
	}
	if _, err := e.conn.List(e.ctx, e.sess, connector.ListRequest{Object: "contacts", Since: since, Cursor: "garbage"}); connector.ClassOf(err) != connector.ClassInvalid {
		t.Errorf("bad cursor: %v", err)
	}
}

// TestListSinceBeyondSearchLimit reads more changed records than one HubSpot
// search can page through.
func TestListSinceBeyondSearchLimit(t *testing.T) {
	t.Parallel()
	const depth, n = 500, 650 // HubSpot's depth is 10,000; the logic is the same
	e := newTenv(t, envOptions{fake: fake.Options{SearchRateLimit: 1 << 20, SearchResultLimit: depth}})
	e.conn.searchDepth = depth
	recs := make([]map[string]any, 0, n)
	for i := range n {
		recs = append(recs, map[string]any{"email": fmt.Sprintf("m%05d@x.com", i)})
	}
	for _, r := range recs {
		if _, err := e.fake.SeedRecords("acct-demo", "contacts", []map[string]any{r}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Millisecond)
	}
	seen := map[string]bool{}
	req := connector.ListRequest{Object: "contacts", Since: t0, Limit: 100}
	for range 100 {
		page, err := e.conn.List(e.ctx, e.sess, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Records {
			seen[r.ID] = true
		}
		if page.Next == "" {
			break
		}
		req.Cursor = page.Next
	}
	if len(seen) != n {
		t.Errorf("read %d distinct records, want %d", len(seen), n)
	}
}

func TestWriteCreatesInBatches(t *testing.T) {
	t.Parallel()
	e := newTenv(t, envOptions{})
	var recs []connector.Record
	for i := range 250 {
		recs = append(recs, connector.Record{Fields: map[string]any{"email": fmt.Sprintf("w%03d@x.com", i), "firstname": "W", "lifecyclestage": nil}})
	}
	before := e.calls()
	results, err := e.conn.Write(e.ctx, e.sess, connector.WriteRequest{Object: "contacts", Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.calls() - before; got != 3 {
		t.Errorf("%d requests, want 3", got)
	}
	stored := e.fake.Records("acct-demo", "contacts")
	byID := map[string]fakekit.Record{}
	for _, r := range stored {
		byID[r.ID] = r
	}
	for i, r := range results {
		if r.Index != i || r.Err != nil || !r.Created || byID[r.ID].Fields["email"] != recs[i].Fields["email"] {
			t.Fatalf("result %d = %+v (stored %+v)", i, r, byID[r.ID])
		}
	}
	if len(stored) != 250 {
		t.Errorf("fake holds %d", len(stored))
	}
}

func TestWriteUpsertByEmail(t *testing.T) {
	t.Parallel()
	e := newTenv(t, envOptions{})
	write := func(recs ...connector.Record) []connector.WriteResult {
		t.Helper()
		res, err := e.conn.Write(e.ctx, e.sess, connector.WriteRequest{Object: "contacts", MatchField: "email", Records: recs})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	rec := func(email, name string) connector.Record {
		return connector.Record{Fields: map[string]any{"email": email, "firstname": name, "hs_object_id": "ignored"}}
	}
	first := write(rec("ann@acme.com", "Ann"), rec("bob@acme.com", "Bob"))
	second := write(rec("ANN@acme.com", "Annie"), rec("bob@acme.com", "Robert"), rec("cy@acme.com", "Cy"), connector.Record{Fields: map[string]any{"firstname": "No e-mail"}})
	if !first[0].Created || !first[1].Created || second[0].Created || second[1].Created || !second[2].Created {
		t.Errorf("created flags: %+v %+v", first, second)
	}
	if second[0].ID != first[0].ID || second[1].ID != first[1].ID {
		t.Errorf("upsert changed ids: %+v %+v", first, second)
	}
	if connector.ClassOf(second[3].Err) != connector.ClassInvalid {
		t.Errorf("a record without the match value: %+v", second[3])
	}
	stored := e.fake.Records("acct-demo", "contacts")
	if len(stored) != 3 || stored[0].Fields["firstname"] != "Annie" || stored[1].Fields["firstname"] != "Robert" {
		t.Errorf("stored = %+v", stored)
	}
	// The same e-mail twice in one write: both land, in order, in two batches.
	res := write(rec("dee@acme.com", "Dee 1"), rec("dee@acme.com", "Dee 2"))
	if res[0].Err != nil || res[1].Err != nil || res[0].ID != res[1].ID {
		t.Errorf("repeated key: %+v", res)
	}
	if got, _ := e.fake.Kit().Records("acct-demo", "contacts").Get(res[0].ID); got.Fields["firstname"] != "Dee 2" {
		t.Errorf("last write should win: %+v", got)
	}
}

func TestWriteMatchesCompaniesByDomain(t *testing.T) {
	t.Parallel()
	e := newTenv(t, envOptions{})
	if _, err := e.fake.SeedRecords("acct-demo", "companies", []map[string]any{{"name": "Acme", "domain": "acme.com"}}); err != nil {
		t.Fatal(err)
	}
	recs := []connector.Record{
		{Fields: map[string]any{"domain": "ACME.com", "name": "Acme Inc", "numberofemployees": 120.0}},
		{Fields: map[string]any{"domain": "beta.io", "name": "Beta"}},
		{Fields: map[string]any{"domain": "Beta.io", "city": "Lisbon"}}, // same new company: no second one
	}
	for run := range 2 { // a second run changes nothing and creates nothing
		res, err := e.conn.Write(e.ctx, e.sess, connector.WriteRequest{Object: "companies", MatchField: "domain", Records: recs})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Err != nil || res[0].Created || res[0].ID != "101" || res[1].Err != nil || res[1].Created != (run == 0) ||
			res[2].Err != nil || res[2].Created || res[2].ID != res[1].ID {
			t.Errorf("run %d: results = %+v", run, res)
		}
	}
	stored := e.fake.Records("acct-demo", "companies")
	if len(stored) != 2 || stored[0].Fields["name"] != "Acme Inc" || stored[0].Fields["numberofemployees"] != "120" ||
		stored[1].Fields["name"] != "Beta" || stored[1].Fields["city"] != "Lisbon" {
		t.Errorf("stored = %+v", stored)
	}
}

func TestWriteRecordErrors(t *testing.T) {
	t.Parallel()
	e := newTenv(t, envOptions{})
	e.seedContacts(2, contact) // ids 101, 102
	res, err := e.conn.Write(e.ctx, e.sess, connector.WriteRequest{Object: "contacts", Records: []connector.Record{
		{ID: "101", Fields: map[string]any{"firstname": "Changed"}},
		{ID: "999", Fields: map[string]any{"firstname": "Ghost"}},
		{ID: "102", Fields: map[string]any{"jobtitle": "CEO"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[2].Err != nil || connector.ClassOf(res[1].Err) != connector.ClassNotFound {
		t.Errorf("results = %+v", res)
	}
	if got := e.fake.Records("acct-demo", "contacts"); got[0].Fields["firstname"] != "Changed" || got[1].Fields["jobtitle"] != "CEO" {
		t.Errorf("stored = %+v", got)
	}

	res, err = e.conn.Write(e.ctx, e.sess, connector.WriteRequest{Object: "contacts", Records: []connector.Record{
		{Fields: map[string]any{"email": "z@x.com", "shoe_size": 9}},
	}})
	if err != nil || connector.ClassOf(res[0].Err) != connector.ClassInvalid || !strings.Contains(res[0].Err.Error(), "shoe_size") {
		t.Fatalf("invalid property: %v %+v", err, res)
	}
}

func TestErrorClasses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		scopes    []string
		setup     func(e *tenv)
		run       func(e *tenv) error
		wantClass connector.Class
		wantCode  string
		wantScope string
	}{
		{name: "401 after revoke", setup: func(e *tenv) { e.control("revoke", map[string]string{"account": "acct-demo"}) },
			run: func(e *tenv) error {
				_, err := e.conn.List(e.ctx, e.sess, connector.ListRequest{Object: "contacts"})
				return err
			},
			wantClass: connector.ClassUnauthorized, wantCode: "INVALID_AUTHENTICATION"},
		{name: "401 identity after expire", setup: func(e *tenv) { e.control("expire", map[string]string{"account": "acct-demo"}) },
			run:       func(e *tenv) error { _, err := e.conn.Identity(e.ctx, e.sess); return err },
			wantClass: connector.ClassUnauthorized, wantCode: "EXPIRED_AUTHENTICATION"},
		{name: "403 missing read scope", scopes: []string{"crm.objects.contacts.read"},
			run: func(e *tenv) error {
				_, err := e.conn.List(e.ctx, e.sess, connector.ListRequest{Object: "companies"})
				return err
			},
			wantClass: connector.ClassForbidden, wantCode: "MISSING_SCOPES", wantScope: "crm.objects.companies.read"},
		{name: "403 missing write scope", scopes: []string{"crm.objects.contacts.read"},
			run: func(e *tenv) error {
				_, err := e.conn.Write(e.ctx, e.sess, connector.WriteRequest{Object: "contacts", Records: []connector.Record{{Fields: map[string]any{"email": "a@b.c"}}}})
				return err
			},
			wantClass: connector.ClassForbidden, wantCode: "MISSING_SCOPES", wantScope: "crm.objects.contacts.write"},
		{name: "404 unknown record",
			run: func(e *tenv) error {
				res, err := e.conn.Write(e.ctx, e.sess, connector.WriteRequest{Object: "contacts", Records: []connector.Record{{ID: "4040", Fields: map[string]any{"firstname": "x"}}}})
				if err != nil {
					return err
				}
				return res[0].Err
			},
			wantClass: connector.ClassNotFound, wantCode: "OBJECT_NOT_FOUND"},
		{name: "400 unknown object",
			run: func(e *tenv) error {
				_, err := e.conn.List(e.ctx, e.sess, connector.ListRequest{Object: "widgets"})
				return err
			},
			wantClass: connector.ClassInvalid, wantCode: "VALIDATION_ERROR"},
		{name: "503 outage", setup: func(e *tenv) { e.control("outage", map[string]bool{"on": true}) },
			run: func(e *tenv) error {
				_, err := e.conn.List(e.ctx, e.sess, connector.ListRequest{Object: "contacts"})
				return err
			},
			wantClass: connector.ClassUnavailable, wantCode: "SERVICE_UNAVAILABLE"},
		{name: "unreachable", setup: func(e *tenv) { e.sess.BaseURL = "http://127.0.0.1:1" },
			run:       func(e *tenv) error { _, err := e.conn.Identity(e.ctx, e.sess); return err },
			wantClass: connector.ClassUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newTenv(t, envOptions{scopes: c.scopes})
			if c.setup != nil {
				c.setup(e)
			}
			err := c.run(e)
			ce, ok := err.(*connector.Error)
			if !ok {
				t.Fatalf("error %T %v is not a *connector.Error", err, err)
			}
			if ce.Class != c.wantClass || ce.Code != c.wantCode || ce.Scope != c.wantScope {
				t.Errorf("error = %+v, want class %s code %s scope %q", ce, c.wantClass, c.wantCode, c.wantScope)
			}
			if msg := err.Error(); strings.Contains(msg, e.sess.Creds.AccessToken) || strings.Contains(msg, e.sess.Creds.RefreshToken) {
				t.Errorf("error message carries a token: %s", msg)
			}
		})
	}
}

// TestRateLimitWaits tightens the fake to one request per second: the
// transport honours Retry-After, every call succeeds, and the fake never
// accepts a request beyond its limit.
func TestRateLimitWaits(t *testing.T) {
	t.Parallel()
	e := newTenv(t, envOptions{fake: fake.Options{Now: time.Now}, budget: transport.NewBudget(fake.DefaultRateLimit, fake.DefaultRateWindow)})
	e.seedContacts(3, contact)
	e.control("rate_limit", map[string]int{"per_second": 1})
	start := time.Now()
	for range 2 {
		if _, err := e.conn.List(e.ctx, e.sess, connector.ListRequest{Object: "contacts"}); err != nil {
			t.Fatal(err)
		}
	}
	if waited := time.Since(start); waited < 800*time.Millisecond {
		t.Errorf("two calls at 1/s took %v; the transport did not wait", waited)
	}
	s := e.fake.Stats()
	a := s.Accounts["acct-demo"]
	if s.RateLimited < 1 || s.OverLimit != 0 || a.Calls-a.RateLimited != 2 {
		t.Errorf("stats = %+v", s)
	}
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	e := newTenv(t, envOptions{})
	if err := e.conn.Revoke(e.ctx, e.sess); err != nil {
		t.Fatal(err)
	}
	resp, err := http.PostForm(e.srv.URL+"/oauth/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {e.sess.Creds.RefreshToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("refresh after revoke: %d", resp.StatusCode)
	}
	if err := e.conn.Revoke(e.ctx, e.sess); err != nil {
		t.Errorf("revoking twice: %v", err)
	}
	e.sess.Creds.RefreshToken = ""
	if err := e.conn.Revoke(e.ctx, e.sess); err != nil {
		t.Errorf("nothing to revoke: %v", err)
	}
}
