package airtable

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
	fake "patchbay/internal/fakes/airtable"
	"patchbay/internal/fakes/fakekit"
	"patchbay/internal/transport"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type tenv struct {
	*connectortest.Env
	fake  *fake.Fake
	base1 string
	base2 string
}

func start(t *testing.T, o connectortest.Options, scopes ...string) *tenv {
	t.Helper()
	var fo fake.Options
	var clock *fakekit.Clock
	if !o.Paced {
		clock = fakekit.NewClock(t0)
		fo.Now = clock.Now
	}
	f := fake.New(fo)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	e := &tenv{fake: f, base1: fake.BaseID("acct-demo", 1), base2: fake.BaseID("acct-demo", 2)}
	ts := f.IssueToken("acct-demo", scopes...)
	budgets := transport.NewBudgets()
	limit := 0
	if o.Paced {
		limit = fake.DefaultBaseRateLimit
	}
	tr := transport.New(transport.Options{Budget: transport.NewBudget(0, 0), Retries: max(o.Retries, 1), MaxRetryAfter: time.Millisecond,
		Keyed: func(key string) *transport.Budget { return budgets.Get(key, limit, time.Second) },
		Authorize: func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+ts.AccessToken)
			return nil
		}})
	e.Env = &connectortest.Env{
		Session: connector.Session{HTTP: tr.Client(), BaseURL: srv.URL, Creds: connector.Credentials{AccessToken: ts.AccessToken, RefreshToken: ts.RefreshToken},
			Config: map[string]string{ConfigBases: e.base1 + ", " + e.base2}},
		Clock: clock,
		Stats: f.Stats,
		Control: func(t *testing.T, what string, body any) {
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
		},
		Seed: func(t *testing.T, n int) []string {
			recs := make([]map[string]any, n)
			for i := range recs {
				recs[i] = map[string]any{"Name": fmt.Sprint("Seed ", i), "Email": fmt.Sprintf("seed%d@acme.com", i)}
			}
			ids, err := f.SeedRecords("acct-demo", e.base1, "Contacts", recs)
			if err != nil {
				t.Fatal(err)
			}
			return ids
		},
		Stored: func(*testing.T) int { return len(f.Records("acct-demo", e.base1, "Contacts")) },
	}
	return e
}

func (e *tenv) object() string { return e.base1 + "/Contacts" }

func TestContract(t *testing.T) {
	t.Parallel()
	c := New()
	obj := fake.BaseID("acct-demo", 1) + "/Contacts"
	connectortest.Run(t, connectortest.Harness{
		Connector: c, Object: obj, PageSize: pageMax, BatchSize: writeMax,
		NewRecord: func(i int) connector.Record {
			return connector.Record{Fields: map[string]any{"Name": fmt.Sprint("New ", i), "Notes": nil, "Segment": "SMB"}}
		},
		Start: func(t *testing.T, o connectortest.Options) *connectortest.Env { return start(t, o).Env },
		Forbidden: func(t *testing.T) error {
			e := start(t, connectortest.Options{}, "data.records:read", "schema.bases:read")
			_, err := c.Write(context.Background(), e.Session, connector.WriteRequest{Object: obj, Records: []connector.Record{{Fields: map[string]any{"Name": "x"}}}})
			return err
		},
		NotFound: func(t *testing.T, e *connectortest.Env) error {
			res, err := c.Write(context.Background(), e.Session, connector.WriteRequest{Object: obj, Records: []connector.Record{{ID: "rec00000000004040", Fields: map[string]any{"Name": "Ghost"}}}})
			if err != nil {
				return err
			}
			return res[0].Err
		},
	})
}

func TestIdentityFlagsLostBases(t *testing.T) {
	t.Parallel()
	e := start(t, connectortest.Options{})
	c := New()
	acct, err := c.Identity(context.Background(), e.Session)
	if err != nil || acct.ID != fake.UserID("acct-demo") || acct.Email != fake.UserEmail("acct-demo") || acct.Name != "Sales CRM, Marketing" || acct.Limited != "" {
		t.Fatalf("account = %+v, %v", acct, err)
	}
	e.fake.SetSharedBases("acct-demo", []string{e.base1})
	acct, err = c.Identity(context.Background(), e.Session)
	if err != nil || acct.Name != "Sales CRM" || !strings.Contains(acct.Limited, e.base2) || !strings.Contains(acct.Limited, "re-select which bases") {
		t.Fatalf("after unsharing a base: %+v, %v", acct, err)
	}
	if _, err := c.List(context.Background(), e.Session, connector.ListRequest{Object: e.base2 + "/Contacts"}); connector.ClassOf(err) != connector.ClassForbidden {
		t.Errorf("reading the lost base: %v", err)
	}
}

func TestListFieldsAndBadObjects(t *testing.T) {
	t.Parallel()
	e := start(t, connectortest.Options{})
	e.Seed(t, 2)
	c := New()
	page, err := c.List(context.Background(), e.Session, connector.ListRequest{Object: e.object(), Fields: []string{"Email"}})
	if err != nil || len(page.Records) != 2 || page.Records[0].Fields["Email"] != "seed0@acme.com" || page.Records[0].Fields["Name"] != nil {
		t.Fatalf("page = %+v, %v", page, err)
	}
	for _, obj := range []string{"Contacts", "appNOTABASE/Contacts", "appAAAAAAAAAAAAAA/Contacts"} {
		if _, err := c.List(context.Background(), e.Session, connector.ListRequest{Object: obj}); connector.ClassOf(err) != connector.ClassInvalid {
			t.Errorf("%s: %v", obj, err)
		}
	}
	if _, err := c.List(context.Background(), e.Session, connector.ListRequest{Object: e.base1 + "/Nope"}); connector.ClassOf(err) != connector.ClassNotFound {
		t.Errorf("unknown table: %v", err)
	}
}

func TestUpsertAndRecordErrors(t *testing.T) {
	t.Parallel()
	e := start(t, connectortest.Options{})
	c := New()
	ctx := context.Background()
	write := func(recs ...connector.Record) []connector.WriteResult {
		t.Helper()
		res, err := c.Write(ctx, e.Session, connector.WriteRequest{Object: e.object(), MatchField: "Email", Records: recs})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	rec := func(email, name string) connector.Record {
		return connector.Record{Fields: map[string]any{"Email": email, "Name": name}}
	}
	first := write(rec("ann@acme.com", "Ann"), rec("bob@acme.com", "Bob"))
	second := write(rec("ann@acme.com", "Annie"), rec("cy@acme.com", "Cy"),
		connector.Record{Fields: map[string]any{"Email": "bad@acme.com", "Shoe size": 9}}, connector.Record{Fields: map[string]any{"Name": "no e-mail"}})
	if !first[0].Created || !first[1].Created || second[0].Created || second[0].ID != first[0].ID || !second[1].Created {
		t.Errorf("upserts: %+v / %+v", first, second)
	}
	if !strings.Contains(fmt.Sprint(second[2].Err), "UNKNOWN_FIELD_NAME") || connector.ClassOf(second[3].Err) != connector.ClassInvalid {
		t.Errorf("record errors: %v / %v", second[2].Err, second[3].Err)
	}
	if got := e.fake.Records("acct-demo", e.base1, "Contacts"); len(got) != 3 {
		t.Errorf("stored %d records: %+v", len(got), got)
	}
}

// TestBudgetPerBase reads two bases at once as fast as the session lets it:
// each base gets its own 5 requests a second, and the fake, which answers a
// 429 with a 30-second penalty, never refuses one.
func TestBudgetPerBase(t *testing.T) {
	t.Parallel()
	e := start(t, connectortest.Options{Paced: true})
	c := New()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, base := range []string{e.base1, e.base2} {
		wg.Go(func() {
			for range 8 {
				if _, err := c.List(context.Background(), e.Session, connector.ListRequest{Object: base + "/Companies"}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if s := e.fake.Stats(); s.RateLimited != 0 || s.Calls != 16 {
		t.Fatalf("stats = %+v", s)
	}
}

// TestPenaltyAfter429 misbehaves on purpose (no pacing): after the 429 the
// session sends nothing to that base until Retry-After has passed, and the
// fake keeps the base closed for Airtable's 30 seconds however empty the
// window gets.
func TestPenaltyAfter429(t *testing.T) {
	t.Parallel()
	e := start(t, connectortest.Options{})
	c := New()
	req := connector.ListRequest{Object: e.object()}
	var err error
	for range 6 {
		if _, err = c.List(context.Background(), e.Session, req); err != nil {
			break
		}
	}
	var ce *connector.Error
	if !errorsAs(err, &ce) || ce.Class != connector.ClassRateLimited || ce.Code != "RATE_LIMIT_REACHED" || ce.RetryAfter != 30*time.Second {
		t.Fatalf("sixth request in a second: %v", err)
	}
	calls := e.Stats().Calls
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.List(ctx, e.Session, req); err == nil || e.Stats().Calls != calls {
		t.Fatalf("the session sent a request during the penalty: %v", err)
	}
	raw := func() int {
		r, _ := http.NewRequest(http.MethodGet, e.Session.BaseURL+"/v0/"+e.base1+"/Contacts", nil)
		r.Header.Set("Authorization", "Bearer "+e.Session.Creds.AccessToken)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	e.Clock.Advance(5 * time.Second) // the window is empty, the penalty is not over
	if st := raw(); st != http.StatusTooManyRequests {
		t.Fatalf("during the penalty: %d", st)
	}
	e.Clock.Advance(26 * time.Second)
	if st := raw(); st != http.StatusOK {
		t.Fatalf("after the penalty: %d", st)
	}
}

func errorsAs(err error, target **connector.Error) bool { return errors.As(err, target) }
