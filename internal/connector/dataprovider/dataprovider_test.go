package dataprovider

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"patchbay/internal/connector"
	fake "patchbay/internal/fakes/dataprovider"
	"patchbay/internal/transport"
)

type tenv struct {
	t    *testing.T
	fake *fake.Fake
	srv  *httptest.Server
	sess connector.Session
	conn *Connector
	ctx  context.Context
}

func newTenv(t *testing.T, o fake.Options, budget *transport.Budget) *tenv {
	t.Helper()
	f := fake.New(o)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	if budget == nil {
		budget = transport.NewBudget(0, 0)
	}
	e := &tenv{t: t, fake: f, srv: srv, conn: New(), ctx: context.Background()}
	tr := transport.New(transport.Options{
		Budget:  budget,
		Retries: 1,
		Authorize: func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+e.sess.Creds.APIKey)
			return nil
		},
	})
	// A trailing slash, as users paste endpoint URLs.
	e.sess = connector.Session{HTTP: tr.Client(), BaseURL: srv.URL + "/", Creds: connector.Credentials{APIKey: f.IssueKey("acct-demo")},
		Config: map[string]string{"endpoint_url": srv.URL}}
	return e
}

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

func TestIdentityAndLookup(t *testing.T) {
	t.Parallel()
	e := newTenv(t, fake.Options{}, nil)
	acct, err := e.conn.Identity(e.ctx, e.sess)
	if err != nil || acct.ID != "acct-demo" || acct.Name != "Acct Demo" || acct.Email != "acct-demo@example.com" || acct.Scopes != nil {
		t.Fatalf("identity = %+v, %v", acct, err)
	}
	cases := []struct {
		name      string
		lookup    string
		input     map[string]string
		wantFound bool
		wantKey   string
		wantValue any
		wantClass connector.Class
	}{
		{"company", "company_by_domain", map[string]string{"domain": "acme.com"}, true, "name", "Acme", ""},
		{"person", "person_by_email", map[string]string{"email": "ann.lee@acme.com"}, true, "last_name", "Lee", ""},
		{"contact", "contact_by_company", map[string]string{"company": "Acme Inc"}, true, "email", "contact@acme.com", ""},
		{"not found", "company_by_domain", map[string]string{"domain": "gone.invalid"}, false, "", nil, ""},
		{"unknown lookup", "horoscope", map[string]string{"sign": "leo"}, false, "", nil, connector.ClassInvalid},
		{"missing input", "person_by_email", nil, false, "", nil, connector.ClassInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, found, err := e.conn.Lookup(e.ctx, e.sess, c.lookup, c.input)
			if connector.ClassOf(err) != c.wantClass && !(err == nil && c.wantClass == "") {
				t.Fatalf("err = %v, want class %q", err, c.wantClass)
			}
			if found != c.wantFound || (c.wantKey != "" && data[c.wantKey] != c.wantValue) {
				t.Errorf("found %v data %v", found, data)
			}
		})
	}
}

func TestNoRecords(t *testing.T) {
	t.Parallel()
	e := newTenv(t, fake.Options{}, nil)
	_, errList := e.conn.List(e.ctx, e.sess, connector.ListRequest{Object: "companies"})
	_, errWrite := e.conn.Write(e.ctx, e.sess, connector.WriteRequest{Object: "companies"})
	for _, err := range []error{errList, errWrite} {
		if connector.ClassOf(err) != connector.ClassInvalid || !strings.Contains(err.Error(), "no records to sync") {
			t.Errorf("err = %v", err)
		}
	}
}

func TestErrorClasses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		opts      fake.Options
		setup     func(e *tenv)
		run       func(e *tenv) error
		wantClass connector.Class
		wantCode  string
	}{
		{name: "invalid key", setup: func(e *tenv) { e.sess.Creds.APIKey = "dpk_wrong-key" },
			run:       func(e *tenv) error { _, err := e.conn.Identity(e.ctx, e.sess); return err },
			wantClass: connector.ClassUnauthorized, wantCode: "invalid_api_key"},
		{name: "revoked key", setup: func(e *tenv) { e.control("revoke", map[string]string{"account": "acct-demo"}) },
			run: func(e *tenv) error {
				_, _, err := e.conn.Lookup(e.ctx, e.sess, "company_by_domain", map[string]string{"domain": "a.com"})
				return err
			},
			wantClass: connector.ClassUnauthorized, wantCode: "invalid_api_key"},
		{name: "outage", setup: func(e *tenv) { e.control("outage", map[string]bool{"on": true}) },
			run:       func(e *tenv) error { _, err := e.conn.Identity(e.ctx, e.sess); return err },
			wantClass: connector.ClassUnavailable, wantCode: "unavailable"},
		{name: "out of credits", opts: fake.Options{Credits: 1},
			setup: func(e *tenv) {
				_, _, _ = e.conn.Lookup(e.ctx, e.sess, "company_by_domain", map[string]string{"domain": "a.com"})
			},
			run: func(e *tenv) error {
				_, _, err := e.conn.Lookup(e.ctx, e.sess, "company_by_domain", map[string]string{"domain": "b.com"})
				return err
			},
			wantClass: connector.ClassForbidden, wantCode: "insufficient_credits"},
		{name: "wrong endpoint", setup: func(e *tenv) { e.sess.BaseURL = e.srv.URL + "/nothing-here" },
			run:       func(e *tenv) error { _, err := e.conn.Identity(e.ctx, e.sess); return err },
			wantClass: connector.ClassNotFound},
		{name: "unreachable", setup: func(e *tenv) { e.sess.BaseURL = "http://127.0.0.1:1" },
			run:       func(e *tenv) error { _, err := e.conn.Identity(e.ctx, e.sess); return err },
			wantClass: connector.ClassUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newTenv(t, c.opts, nil)
			if c.setup != nil {
				c.setup(e)
			}
			err := c.run(e)
			ce, ok := err.(*connector.Error)
			if !ok || ce.Class != c.wantClass || ce.Code != c.wantCode {
				t.Fatalf("err = %#v, want class %s code %s", err, c.wantClass, c.wantCode)
			}
			if strings.Contains(err.Error(), e.sess.Creds.APIKey) {
				t.Errorf("error carries the key: %v", err)
			}
		})
	}
}

func TestRateLimitWaits(t *testing.T) {
	t.Parallel()
	e := newTenv(t, fake.Options{Now: time.Now}, transport.NewBudget(fake.DefaultRateLimit, time.Second))
	e.control("rate_limit", map[string]int{"per_second": 1})
	start := time.Now()
	for range 2 {
		if _, _, err := e.conn.Lookup(e.ctx, e.sess, "company_by_domain", map[string]string{"domain": "acme.com"}); err != nil {
			t.Fatal(err)
		}
	}
	if waited := time.Since(start); waited < 800*time.Millisecond {
		t.Errorf("two lookups at 1/s took %v", waited)
	}
	s := e.fake.Stats()
	if a := s.Accounts["acct-demo"]; s.RateLimited < 1 || s.OverLimit != 0 || a.Calls-a.RateLimited != 2 {
		t.Errorf("stats = %+v", s)
	}
}
