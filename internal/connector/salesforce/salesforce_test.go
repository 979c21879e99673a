package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"patchbay/internal/connector"
	"patchbay/internal/connector/connectortest"
	"patchbay/internal/fakes/fakekit"
	fake "patchbay/internal/fakes/salesforce"
	"patchbay/internal/transport"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// tenv is a Salesforce fake behind a real HTTP server and a session that
// talks to it through Patchbay's transport, with the credentials a real
// code exchange gives (instance_url and identity URL in the extras).
type tenv struct {
	*connectortest.Env
	fake *fake.Fake
	srv  *httptest.Server
}

func start(t *testing.T, o connectortest.Options, scopes ...string) *tenv {
	t.Helper()
	fo := fake.Options{ClientSecret: "s3cret"}
	var clock *fakekit.Clock
	if !o.Paced {
		clock = fakekit.NewClock(t0)
		fo.Now = clock.Now
	}
	f := fake.New(fo)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	e := &tenv{fake: f, srv: srv}
	control := func(t *testing.T, what string, body any) {
		t.Helper()
		b, _ := json.Marshal(body)
		resp, err := http.Post(srv.URL+"/_control/"+what, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("control %s: %d", what, resp.StatusCode)
		}
	}
	budget := transport.NewBudget(0, 0)
	if o.Paced {
		control(t, "rate_limit", map[string]int{"per_second": 5})
		budget = connectortest.Budget(5, time.Second)
	}
	creds := exchange(t, srv.URL, f, scopes)
	var mu sync.Mutex
	tr := transport.New(transport.Options{Budget: budget, Retries: max(o.Retries, 1), MaxRetryAfter: time.Millisecond,
		Authorize: func(_ context.Context, req *http.Request) error {
			mu.Lock()
			defer mu.Unlock()
			req.Header.Set("Authorization", "Bearer "+creds.AccessToken)
			return nil
		}})
	e.Env = &connectortest.Env{
		Session: connector.Session{HTTP: tr.Client(), BaseURL: creds.Extra["instance_url"], Creds: creds},
		Clock:   clock,
		Stats:   f.Stats,
		Control: control,
		Seed: func(t *testing.T, n int) []string {
			recs := make([]map[string]any, n)
			for i := range recs {
				recs[i] = map[string]any{"LastName": fmt.Sprint("Seed", i), "Email": fmt.Sprintf("seed%d-%d@acme.com", i, time.Now().UnixNano())}
			}
			stored, err := f.SeedRecords("acct-demo", "Contact", recs)
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]string, len(stored))
			for i, r := range stored {
				ids[i] = fake.RecordID("Contact", r.ID)
			}
			return ids
		},
		Stored: func(*testing.T) int { return len(f.Records("acct-demo", "Contact")) },
	}
	return e
}

// exchange gets tokens for acct-demo through the token endpoint (the fake's
// control token has no instance_url) by a code grant, as Patchbay would.
func exchange(t *testing.T, base string, f *fake.Fake, scopes []string) connector.Credentials {
	t.Helper()
	if scopes == nil {
		scopes = []string{"api", "refresh_token", "id"}
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	authorize := base + "/services/oauth2/authorize?response_type=code&client_id=c&redirect_uri=" + "http://app.example/cb" + "&scope=" + strings.Join(scopes, "+")
	resp, err := client.PostForm(authorize, map[string][]string{"decision": {"approve"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := resp.Location()
	resp, err = http.PostForm(base+"/services/oauth2/token", map[string][]string{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {"http://app.example/cb"}, "client_id": {"c"}, "client_secret": {"s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token: %d %v %v", resp.StatusCode, tok, err)
	}
	if _, has := tok["expires_in"]; has {
		t.Fatal("Salesforce token answers carry no expires_in")
	}
	rt, _ := tok["refresh_token"].(string)
	return connector.Credentials{AccessToken: tok["access_token"].(string), RefreshToken: rt,
		Extra: map[string]string{"instance_url": tok["instance_url"].(string), "id": tok["id"].(string)}}
}

func contact(i int) connector.Record {
	return connector.Record{Fields: map[string]any{"LastName": fmt.Sprint("New", i), "Email": fmt.Sprintf("new%d@acme.com", i)}}
}

func TestContract(t *testing.T) {
	t.Parallel()
	c := New()
	connectortest.Run(t, connectortest.Harness{
		Connector: c, Object: "Contact", PageSize: 200, BatchSize: collectionMax, NewRecord: contact,
		Start: func(t *testing.T, o connectortest.Options) *connectortest.Env { return start(t, o).Env },
		Forbidden: func(t *testing.T) error {
			e := start(t, connectortest.Options{}, "id", "refresh_token") // no api scope
			_, err := c.List(context.Background(), e.Session, connector.ListRequest{Object: "Contact"})
			return err
		},
		NotFound: func(t *testing.T, e *connectortest.Env) error {
			res, err := c.Write(context.Background(), e.Session, connector.WriteRequest{Object: "Contact",
				Records: []connector.Record{{ID: fake.RecordID("Contact", "4040"), Fields: map[string]any{"LastName": "Ghost"}}}})
			if err != nil {
				return err
			}
			return res[0].Err
		},
	})
}

func TestIdentityAndUsage(t *testing.T) {
	t.Parallel()
	e := start(t, connectortest.Options{})
	acct, err := New().Identity(context.Background(), e.Session)
	if err != nil {
		t.Fatal(err)
	}
	if acct.ID != fake.OrgID("acct-demo") || acct.Email != fake.UserEmail("acct-demo") || !strings.HasPrefix(e.srv.URL, "http://"+acct.Name) {
		t.Errorf("account = %+v", acct)
	}
	// Two calls so far (identity URL, limits): the header reports them.
	if u := acct.Usage; u == nil || u.Used != 2 || u.Limit != fake.DefaultDailyLimit || u.Period != "24h" {
		t.Errorf("usage = %+v", acct.Usage)
	}
}

// TestRefreshOn401 lets the session expire: the API answers 401
// INVALID_SESSION_ID, the transport refreshes once with the refresh token
// (which Salesforce does not rotate and which the answer does not repeat),
// and the retried call succeeds.
func TestRefreshOn401(t *testing.T) {
	t.Parallel()
	e := start(t, connectortest.Options{})
	e.Seed(t, 2)
	creds := e.Session.Creds
	var mu sync.Mutex
	refreshes := 0
	tr := transport.New(transport.Options{Budget: transport.NewBudget(0, 0),
		Authorize: func(_ context.Context, req *http.Request) error {
			mu.Lock()
			defer mu.Unlock()
			req.Header.Set("Authorization", "Bearer "+creds.AccessToken)
			return nil
		},
		Refresh: func(ctx context.Context, _ *http.Request) error {
			resp, err := http.PostForm(e.srv.URL+"/services/oauth2/token", map[string][]string{"grant_type": {"refresh_token"},
				"refresh_token": {creds.RefreshToken}, "client_id": {"c"}, "client_secret": {"s3cret"}})
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var tok map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&tok)
			if resp.StatusCode != 200 || tok["refresh_token"] != nil || tok["expires_in"] != nil || tok["instance_url"] == nil {
				return fmt.Errorf("refresh answer %d %v", resp.StatusCode, tok)
			}
			mu.Lock()
			creds.AccessToken = tok["access_token"].(string)
			refreshes++
			mu.Unlock()
			return nil
		}})
	sess := e.Session
	sess.HTTP = tr.Client()
	e.fake.Kit().Expire("acct-demo")
	for range 2 { // the second refresh reuses the same refresh token: it does not rotate
		page, err := New().List(context.Background(), sess, connector.ListRequest{Object: "Contact"})
		if err != nil || len(page.Records) != 2 {
			t.Fatalf("list after expiry: %+v %v", page, err)
		}
		e.fake.Kit().Expire("acct-demo")
	}
	if s := e.fake.Stats(); refreshes != 2 || s.TokensRefreshed != 2 || s.RefreshTokensReused != 0 {
		t.Errorf("refreshes %d, stats %+v", refreshes, s)
	}
}

func TestListSinceOrdersByModstamp(t *testing.T) {
	t.Parallel()
	e := start(t, connectortest.Options{})
	ids := e.Seed(t, 3)
	e.Clock.Advance(time.Hour)
	since := e.Clock.Now()
	// Change the first contact later than a new one is created.
	e.Seed(t, 1)
	e.Clock.Advance(time.Minute)
	res, err := New().Write(context.Background(), e.Session, connector.WriteRequest{Object: "Contact",
		Records: []connector.Record{{ID: ids[0], Fields: map[string]any{"Title": "CEO", "SystemModstamp": "ignored"}}}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("update: %+v %v", res, err)
	}
	page, err := New().List(context.Background(), e.Session, connector.ListRequest{Object: "Contact", Since: since, Fields: []string{"Title"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 2 || page.Records[1].ID != ids[0] || page.Records[1].Fields["Title"] != "CEO" || !page.Records[1].UpdatedAt.Equal(since.Add(time.Minute)) {
		t.Fatalf("records = %+v", page.Records)
	}
}

func TestWriteMatchAndUpsert(t *testing.T) {
	t.Parallel()
	e := start(t, connectortest.Options{})
	ctx := context.Background()
	c := New()
	if _, err := e.fake.SeedRecords("acct-demo", "Contact", []map[string]any{{"LastName": "Ann", "Email": "ann@acme.com"}}); err != nil {
		t.Fatal(err)
	}
	// Matching by e-mail (not an external id): found records are updated, others created.
	res, err := c.Write(ctx, e.Session, connector.WriteRequest{Object: "Contact", MatchField: "Email", Records: []connector.Record{
		{Fields: map[string]any{"Email": "ANN@acme.com", "Title": "CTO", "LastName": "Ann"}},
		{Fields: map[string]any{"Email": "o'brien@acme.com", "LastName": "O'Brien"}},
		{Fields: map[string]any{"LastName": "No e-mail"}},
		{Fields: map[string]any{"Email": "bad@acme.com"}}, // LastName is required
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[0].Created || res[0].ID != fake.RecordID("Contact", "101") || res[1].Err != nil || !res[1].Created {
		t.Errorf("match results = %+v", res)
	}
	if connector.ClassOf(res[2].Err) != connector.ClassInvalid || !strings.Contains(fmt.Sprint(res[3].Err), "REQUIRED_FIELD_MISSING") {
		t.Errorf("record errors = %v / %v", res[2].Err, res[3].Err)
	}
	// Upsert by an external id field: created, then updated by the same key.
	for round, want := range []bool{true, false} {
		res, err := c.Write(ctx, e.Session, connector.WriteRequest{Object: "Contact", MatchField: "External_Id__c", Records: []connector.Record{
			{Fields: map[string]any{"External_Id__c": "row-1", "LastName": fmt.Sprint("Ext", round)}},
		}})
		if err != nil || res[0].Err != nil || res[0].Created != want {
			t.Fatalf("upsert round %d: %+v %v", round, res, err)
		}
	}
	stored := e.fake.Records("acct-demo", "Contact")
	if len(stored) != 3 || stored[0].Fields["Title"] != "CTO" || stored[2].Fields["LastName"] != "Ext1" {
		t.Errorf("stored = %+v", stored)
	}
}

func TestDailyLimitIsARateLimitNotAPermission(t *testing.T) {
	t.Parallel()
	e := start(t, connectortest.Options{})
	e.Control(t, "rate_limit", map[string]int{"per_second": 1})
	c := New()
	_, _ = c.List(context.Background(), e.Session, connector.ListRequest{Object: "Contact"})
	_, err := c.List(context.Background(), e.Session, connector.ListRequest{Object: "Contact"})
	var ce *connector.Error
	if !errorsAs(err, &ce) || ce.Class != connector.ClassRateLimited || ce.Status != 403 || ce.Code != "REQUEST_LIMIT_EXCEEDED" {
		t.Fatalf("err = %v", err)
	}
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	e := start(t, connectortest.Options{})
	c := New()
	if err := c.Revoke(context.Background(), e.Session); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Identity(context.Background(), e.Session); connector.ClassOf(err) != connector.ClassUnauthorized {
		t.Errorf("access token after revoking its refresh token: %v", err)
	}
	if err := c.Revoke(context.Background(), e.Session); err != nil {
		t.Errorf("revoking twice: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	e := start(t, connectortest.Options{})
	c := New()
	ctx := context.Background()
	for _, req := range []connector.ListRequest{
		{Object: "Contact; DROP"}, {Object: "Contact", Fields: []string{"Email FROM Lead"}}, {Object: "Contact", Cursor: "https://evil.example/x"},
	} {
		if _, err := c.List(ctx, e.Session, req); connector.ClassOf(err) != connector.ClassInvalid {
			t.Errorf("%+v: %v", req, err)
		}
	}
	if _, err := c.List(ctx, e.Session, connector.ListRequest{Object: "Widget__x"}); connector.ClassOf(err) != connector.ClassInvalid || !strings.Contains(err.Error(), "INVALID_TYPE") {
		t.Errorf("unknown object: %v", err)
	}
}

func errorsAs(err error, target **connector.Error) bool { return errors.As(err, target) }
