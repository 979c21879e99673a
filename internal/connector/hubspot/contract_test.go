package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"patchbay/internal/connector"
	"patchbay/internal/connector/connectortest"
	"patchbay/internal/fakes/fakekit"
	fake "patchbay/internal/fakes/hubspot"
	"patchbay/internal/transport"
)

// contractEnv starts a HubSpot fake for the shared connector contract.
func contractEnv(t *testing.T, o connectortest.Options, scopes ...string) *connectortest.Env {
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
	ts := f.IssueToken("acct-demo", scopes...)
	tr := transport.New(transport.Options{Budget: budget, Retries: max(o.Retries, 1), MaxRetryAfter: time.Millisecond,
		Authorize: func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+ts.AccessToken)
			return nil
		}})
	return &connectortest.Env{
		Session: connector.Session{HTTP: tr.Client(), BaseURL: srv.URL, Creds: connector.Credentials{AccessToken: ts.AccessToken, RefreshToken: ts.RefreshToken}},
		Clock:   clock,
		Stats:   f.Stats,
		Control: control,
		Seed: func(t *testing.T, n int) []string {
			recs := make([]map[string]any, n)
			for i := range recs {
				recs[i] = map[string]any{"email": fmt.Sprintf("seed%d-%d@acme.com", i, time.Now().UnixNano())}
			}
			stored, err := f.SeedRecords("acct-demo", "contacts", recs)
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]string, len(stored))
			for i, r := range stored {
				ids[i] = r.ID
			}
			return ids
		},
		Stored: func(*testing.T) int { return len(f.Records("acct-demo", "contacts")) },
	}
}

func TestContract(t *testing.T) {
	t.Parallel()
	c := New()
	connectortest.Run(t, connectortest.Harness{
		Connector: c, Object: "contacts", PageSize: listMax, BatchSize: batchSize,
		NewRecord: func(i int) connector.Record {
			return connector.Record{Fields: map[string]any{"email": "new" + strconv.Itoa(i) + "@acme.com"}}
		},
		Start: func(t *testing.T, o connectortest.Options) *connectortest.Env { return contractEnv(t, o) },
		Forbidden: func(t *testing.T) error {
			e := contractEnv(t, connectortest.Options{}, "crm.objects.contacts.read")
			_, err := c.Write(context.Background(), e.Session, connector.WriteRequest{Object: "contacts", Records: []connector.Record{{Fields: map[string]any{"email": "a@b.c"}}}})
			return err
		},
		NotFound: func(t *testing.T, e *connectortest.Env) error {
			res, err := c.Write(context.Background(), e.Session, connector.WriteRequest{Object: "contacts", Records: []connector.Record{{ID: "4040", Fields: map[string]any{"firstname": "x"}}}})
			if err != nil {
				return err
			}
			return res[0].Err
		},
	})
}
