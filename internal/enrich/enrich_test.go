package enrich_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"patchbay/internal/app"
	"patchbay/internal/app/apptest"
	"patchbay/internal/enrich"
	fakedp "patchbay/internal/fakes/dataprovider"
)

// bundle is one running Patchbay with a data-provider connection.
type bundle struct {
	t    *testing.T
	e    *apptest.Env
	fake *fakedp.Fake
	conn string
}

func setup(t *testing.T) *bundle {
	t.Helper()
	e := apptest.Start(t, apptest.Options{Enrich: func(c *enrich.Config) {
		c.Tick = 20 * time.Millisecond
		c.RetryBase, c.RetryMax = 200*time.Millisecond, time.Second
	}})
	b := &bundle{t: t, e: e, fake: e.Fakes["dataprovider"].Handler.(*fakedp.Fake)}
	b.conn = b.connect(e.URL+"/_fakes/dataprovider", app.DemoDataProviderKey)
	return b
}

func (b *bundle) connect(endpoint, key string) string {
	b.t.Helper()
	var out struct {
		Connection apptest.Connection `json:"connection"`
	}
	b.e.MustDo(http.StatusCreated, "POST", "/connections", map[string]any{"provider": "dataprovider",
		"config": map[string]string{"endpoint_url": endpoint}, "api_key": key}, &out)
	return out.Connection.ID
}

func (b *bundle) table(cols map[string]string, rows ...map[string]any) string {
	b.t.Helper()
	var columns []map[string]string
	for _, name := range []string{"domain", "company", "email", "segment", "phone", "industry", "employees", "city"} {
		if typ, ok := cols[name]; ok {
			columns = append(columns, map[string]string{"name": name, "type": typ})
		}
	}
	var tb struct{ ID string }
	b.e.MustDo(http.StatusCreated, "POST", "/tables", map[string]any{"name": "Leads", "columns": columns}, &tb)
	if len(rows) > 0 {
		b.addRows(tb.ID, rows...)
	}
	return tb.ID
}

func (b *bundle) addRows(tableID string, rows ...map[string]any) {
	b.t.Helper()
	var body []map[string]any
	for _, r := range rows {
		body = append(body, map[string]any{"values": r})
	}
	b.e.MustDo(http.StatusCreated, "POST", "/tables/"+tableID+"/rows", map[string]any{"rows": body}, nil)
}

type cell struct {
	State    string `json:"state"`
	Reason   string `json:"reason"`
	Message  string `json:"message"`
	Provider string `json:"provider"`
	Via      string `json:"via"`
	RetryAt  string `json:"retry_at"`
}

type row struct {
	ID     string          `json:"id"`
	Values map[string]any  `json:"values"`
	Cells  map[string]cell `json:"cells"`
}

func (b *bundle) rows(tableID string) []row {
	b.t.Helper()
	var out struct{ Rows []row }
	b.e.MustDo(http.StatusOK, "GET", "/tables/"+tableID+"/rows?limit=1000", nil, &out)
	return out.Rows
}

// byKey indexes rows by the value of a column.
func byKey(rows []row, col string) map[string]row {
	out := map[string]row{}
	for _, r := range rows {
		s, _ := r.Values[col].(string)
		out[s] = r
	}
	return out
}

// waitRows polls the rows until ok holds (the lookups run in the background).
func (b *bundle) waitRows(tableID string, what string, ok func([]row) bool) []row {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rs := b.rows(tableID)
		if ok(rs) {
			// Values and cells are read by two queries; read again so the
			// values are those of the settled cells.
			return b.rows(tableID)
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("rows never reached: %s; last: %+v", what, rs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func settled(col string) func([]row) bool {
	return func(rs []row) bool {
		for _, r := range rs {
			if st := r.Cells[col].State; st == "" || st == "pending" {
				return false
			}
		}
		return true
	}
}

func allDone(col string) func([]row) bool {
	return func(rs []row) bool {
		for _, r := range rs {
			if r.Cells[col].State != "done" {
				return false
			}
		}
		return len(rs) > 0
	}
}

type column struct {
	ID           string         `json:"id"`
	Status       string         `json:"status"`
	StatusReason string         `json:"status_reason"`
	Cells        map[string]int `json:"cells"`
	Stats        struct {
		Queued    int `json:"queued"`
		CacheHits int `json:"cache_hits"`
		Lookups   int `json:"lookups"`
		Found     int `json:"found"`
		NotFound  int `json:"not_found"`
		Failed    int `json:"failed"`
		Skipped   int `json:"skipped"`
	} `json:"stats"`
}

func (b *bundle) addColumn(tableID, name string, action map[string]any) column {
	b.t.Helper()
	var c column
	b.e.MustDo(http.StatusCreated, "POST", "/tables/"+tableID+"/columns", map[string]any{"name": name, "type": "action", "action": action}, &c)
	return c
}

func (b *bundle) column(tableID, name string) column {
	b.t.Helper()
	var c column
	b.e.MustDo(http.StatusOK, "GET", "/tables/"+tableID+"/columns/"+name, nil, &c)
	return c
}

func companyFacts(conns ...string) map[string]any {
	return map[string]any{"connection_ids": conns, "lookup": "company_by_domain", "inputs": map[string]string{"domain": "domain"},
		"outputs": map[string]string{"phone": "phone", "industry": "industry", "employees": "employees"}}
}

func TestActionColumnEnrichesExistingAndNewRows(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tb := b.table(map[string]string{"domain": "text", "employees": "number"},
		map[string]any{"domain": "acme.com"}, map[string]any{"domain": "globex.io"}, map[string]any{"domain": "nobody.invalid"},
		map[string]any{"employees": 3.0})
	col := b.addColumn(tb, "Company facts", companyFacts(b.conn))
	if col.Status != "active" {
		t.Fatalf("column: %+v", col)
	}
	rs := byKey(b.waitRows(tb, "all cells settled", settled("Company facts")), "domain")
	acme := rs["acme.com"]
	if c := acme.Cells["Company facts"]; c.State != "done" || c.Provider != b.conn || c.Via != "lookup" {
		t.Fatalf("acme cell: %+v", c)
	}
	// The fake's answers are deterministic; the number output lands in the number column.
	if acme.Values["phone"] == "" || acme.Values["industry"] == nil {
		t.Fatalf("acme values: %v", acme.Values)
	}
	if _, ok := acme.Values["employees"].(float64); !ok {
		t.Fatalf("employees is not a number: %#v", acme.Values["employees"])
	}
	if c := rs["nobody.invalid"].Cells["Company facts"]; c.State != "not_found" {
		t.Fatalf("invalid domain cell: %+v", c)
	}
	if c := rs[""].Cells["Company facts"]; c.State != "skipped" || c.Reason != "empty_input" {
		t.Fatalf("empty domain cell: %+v", c)
	}

	// A row added later is enriched by itself; a second row with a known
	// domain (in another table too) is answered from the cache.
	calls := b.fake.Stats().Calls
	b.addRows(tb, map[string]any{"domain": "initech.com"}, map[string]any{"domain": "ACME.com"})
	rs = byKey(b.waitRows(tb, "new rows settled", settled("Company facts")), "domain")
	if c := rs["initech.com"].Cells["Company facts"]; c.State != "done" || c.Via != "lookup" {
		t.Fatalf("new row: %+v", c)
	}
	if c := rs["ACME.com"].Cells["Company facts"]; c.State != "done" || c.Via != "cache" {
		t.Fatalf("identical input: %+v", c)
	}
	other := b.table(map[string]string{"domain": "text", "employees": "number"}, map[string]any{"domain": "globex.io"})
	b.addColumn(other, "Facts", companyFacts(b.conn))
	ors := b.waitRows(other, "other table settled", settled("Facts"))
	if c := ors[0].Cells["Facts"]; c.State != "done" || c.Via != "cache" || ors[0].Values["phone"] != rs["globex.io"].Values["phone"] {
		t.Fatalf("across tables: %+v %v", c, ors[0].Values)
	}
	if got := b.fake.Stats().Calls - calls; got != 1 {
		t.Fatalf("provider calls for initech + two cached answers: %d, want 1", got)
	}
	st := b.column(tb, "Company facts").Stats
	if st.Lookups != 4 || st.CacheHits != 1 || st.Found != 4 || st.NotFound != 1 || st.Skipped != 1 || st.Failed != 0 {
		t.Fatalf("stats: %+v", st)
	}
	if s := b.fake.Stats(); s.RateLimited != 0 {
		t.Fatalf("the provider answered 429 %d times", s.RateLimited)
	}
}

func TestColumnValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tb := b.table(map[string]string{"domain": "text", "phone": "text"})
	cases := []struct {
		name   string
		action map[string]any
		field  string
	}{
		{"no connection", map[string]any{"connection_ids": []string{}, "lookup": "company_by_domain"}, "action.connection_ids"},
		{"unknown connection", map[string]any{"connection_ids": []string{"con_nope"}, "lookup": "company_by_domain"}, "action.connection_ids[0]"},
		{"unknown lookup", map[string]any{"connection_ids": []string{b.conn}, "lookup": "weather"}, "action.lookup"},
		{"unmapped input", map[string]any{"connection_ids": []string{b.conn}, "lookup": "company_by_domain", "outputs": map[string]string{"phone": "phone"}}, "action.inputs.domain"},
		{"input column missing", map[string]any{"connection_ids": []string{b.conn}, "lookup": "company_by_domain",
			"inputs": map[string]string{"domain": "website"}, "outputs": map[string]string{"phone": "phone"}}, "action.inputs.domain"},
		{"unknown output", map[string]any{"connection_ids": []string{b.conn}, "lookup": "company_by_domain",
			"inputs": map[string]string{"domain": "domain"}, "outputs": map[string]string{"email": "email"}}, "action.outputs.email"},
		{"output over input", map[string]any{"connection_ids": []string{b.conn}, "lookup": "company_by_domain",
			"inputs": map[string]string{"domain": "domain"}, "outputs": map[string]string{"name": "domain"}}, "action.outputs.name"},
		{"bad filter", map[string]any{"connection_ids": []string{b.conn}, "lookup": "company_by_domain",
			"inputs": map[string]string{"domain": "domain"}, "outputs": map[string]string{"phone": "phone"}, "run_if": map[string]string{"filter": "segment = "}}, "action.run_if.filter"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, body := b.e.Do("POST", "/tables/"+tb+"/columns", map[string]any{"name": "X", "type": "action", "action": tc.action}, nil)
			if st != http.StatusUnprocessableEntity || !strings.Contains(body, `"field":"`+tc.field+`"`) {
				t.Fatalf("status %d body %s, want 422 naming %s", st, body, tc.field)
			}
		})
	}
	var cols struct {
		ActionColumns []column `json:"action_columns"`
	}
	b.e.MustDo(http.StatusOK, "GET", "/tables/"+tb+"/columns", nil, &cols)
	if len(cols.ActionColumns) != 0 {
		t.Fatalf("a refused column was written: %+v", cols)
	}
}

// A provider that knows fewer companies than the fake: it answers
// "not found" for domains starting with a-m and passes the rest on.
func partialProvider(t *testing.T, f *fakedp.Fake) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/lookup" {
			body, _ := io.ReadAll(r.Body)
			var q struct {
				Input map[string]string `json:"input"`
			}
			_ = json.Unmarshal(body, &q)
			if d := q.Input["domain"]; d != "" && d[0] <= 'm' {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"found":false}`))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		f.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestWaterfallStopsAtFirstAnswer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := b.connect(partialProvider(t, b.fake).URL, app.DemoDataProviderKey)
	tb := b.table(map[string]string{"domain": "text"}, map[string]any{"domain": "zeta.com"}, map[string]any{"domain": "acme.com"},
		map[string]any{"domain": "gone.invalid"})
	b.addColumn(tb, "Facts", companyFacts(first, b.conn))
	rs := byKey(b.waitRows(tb, "settled", settled("Facts")), "domain")
	if c := rs["zeta.com"].Cells["Facts"]; c.State != "done" || c.Provider != first {
		t.Fatalf("zeta answered by %s, want the first provider %s: %+v", c.Provider, first, c)
	}
	if c := rs["acme.com"].Cells["Facts"]; c.State != "done" || c.Provider != b.conn {
		t.Fatalf("acme answered by %s, want the second provider %s: %+v", c.Provider, b.conn, c)
	}
	if c := rs["gone.invalid"].Cells["Facts"]; c.State != "not_found" {
		t.Fatalf("nobody knows gone.invalid: %+v", c)
	}
	// zeta: 1 lookup; acme: 2; gone: 2.
	if st := b.column(tb, "Facts").Stats; st.Lookups != 5 || st.Found != 2 || st.NotFound != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestRunConditionsAndBudget(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tb := b.table(map[string]string{"domain": "text", "segment": "text", "phone": "text"},
		map[string]any{"domain": "a1.com", "segment": "Enterprise"}, map[string]any{"domain": "a2.com", "segment": "SMB"},
		map[string]any{"domain": "a3.com", "segment": "Enterprise", "phone": "+1-555-0000"},
		map[string]any{"domain": "a4.com", "segment": "Enterprise"}, map[string]any{"domain": "a5.com", "segment": "Enterprise"},
		map[string]any{"domain": "a6.com", "segment": "Enterprise"})
	var es struct {
		Budget int `json:"daily_lookup_budget"`
	}
	b.e.MustDo(http.StatusOK, "PATCH", "/tables/"+tb+"/enrichment", map[string]any{"daily_lookup_budget": 2}, &es)
	action := companyFacts(b.conn)
	action["outputs"] = map[string]string{"phone": "phone"}
	action["run_if"] = map[string]string{"empty": "phone", "filter": `segment = "Enterprise"`}
	b.addColumn(tb, "Phone", action)
	rs := byKey(b.waitRows(tb, "budget spent", func(rs []row) bool {
		done, waiting := 0, 0
		for _, r := range rs {
			switch c := r.Cells["Phone"]; {
			case c.State == "done":
				done++
			case c.State == "pending" && c.Reason == "budget_exhausted":
				waiting++
			}
		}
		return done == 2 && waiting == 2
	}), "domain")
	if c := rs["a2.com"].Cells["Phone"]; c.State != "skipped" || c.Reason != "condition" {
		t.Fatalf("SMB row: %+v", c)
	}
	if c := rs["a3.com"].Cells["Phone"]; c.State != "skipped" || c.Reason != "condition" || rs["a3.com"].Values["phone"] != "+1-555-0000" {
		t.Fatalf("row with a phone: %+v %v", c, rs["a3.com"].Values)
	}
	col := b.column(tb, "Phone")
	if col.Status != "budget_exhausted" || col.Stats.Lookups != 2 {
		t.Fatalf("column: %+v", col)
	}
	if b.fake.Stats().Calls > 3 { // the key check at connect, then two lookups
		t.Fatalf("the provider got %d calls; the budget allows 2 lookups", b.fake.Stats().Calls)
	}
	// Raising the budget lets a manual run of the empty cells finish them.
	b.e.MustDo(http.StatusOK, "PATCH", "/tables/"+tb+"/enrichment", map[string]any{"daily_lookup_budget": 10}, nil)
	var run struct {
		ID     string `json:"id"`
		Queued int    `json:"queued"`
	}
	b.e.MustDo(http.StatusAccepted, "POST", "/tables/"+tb+"/columns/Phone/run", map[string]any{"only": "empty"}, &run)
	if run.Queued != 3 { // a2 (SMB, no phone) and the two waiting rows; the others have a phone
		t.Fatalf("queued %d, want 3", run.Queued)
	}
	b.waitRows(tb, "all enterprise rows done", func(rs []row) bool {
		for _, r := range rs {
			if r.Values["segment"] == "Enterprise" && r.Values["phone"] == nil {
				return false
			}
		}
		return true
	})
	st, body := b.e.Do("POST", "/tables/"+tb+"/columns/Phone/run", map[string]any{"only": "sometimes"}, nil)
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, `"field":"only"`) {
		t.Fatalf("bad only: %d %s", st, body)
	}
}

func TestOutageFailsCellsThatRetryThemselves(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tb := b.table(map[string]string{"domain": "text"})
	b.addColumn(tb, "Facts", companyFacts(b.conn))
	b.fake.Kit().SetOutage(true)
	b.addRows(tb, map[string]any{"domain": "down1.com"}, map[string]any{"domain": "down2.com"})
	b.waitRows(tb, "cells failed as service_unavailable", func(rs []row) bool {
		for _, r := range rs {
			if c := r.Cells["Facts"]; c.State != "failed" || c.Reason != "service_unavailable" || c.RetryAt == "" {
				return false
			}
		}
		return len(rs) == 2
	})
	if c := b.e.Connection(b.conn); c.Reason != "service_unavailable" {
		t.Fatalf("connection: %+v", c)
	}
	b.fake.Kit().SetOutage(false)
	b.waitRows(tb, "cells retried by themselves", allDone("Facts"))
}

func TestInvalidKeyStopsColumnOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tb := b.table(map[string]string{"domain": "text"})
	b.addColumn(tb, "Facts", companyFacts(b.conn))
	b.fake.Kit().Revoke("acct-demo")
	var rows []map[string]any
	for i := range 60 {
		rows = append(rows, map[string]any{"domain": "k" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + ".com"})
	}
	b.addRows(tb, rows...)
	deadline := time.Now().Add(20 * time.Second)
	var col column
	for col = b.column(tb, "Facts"); col.Status != "stopped"; col = b.column(tb, "Facts") {
		if time.Now().After(deadline) {
			t.Fatalf("column never stopped: %+v", col)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if col.StatusReason != "invalid_api_key" || col.Cells["failed"] != 0 {
		t.Fatalf("stopped column: %+v", col)
	}
	c := b.e.Connection(b.conn)
	if c.Status != "error" || c.Reason != "invalid_api_key" || c.Health != "red" {
		t.Fatalf("connection: %+v", c)
	}
	if n := b.fake.Stats().Unauthorized; n > 40 {
		t.Fatalf("%d refused calls: the column should stop, not try every row", n)
	}
	var evs struct {
		Events []struct{ Kind, Message string }
	}
	b.e.MustDo(http.StatusOK, "GET", "/events?connection_id="+b.conn, nil, &evs)
	changes := 0
	for _, ev := range evs.Events {
		if ev.Kind == "connection.status_changed" {
			changes++
		}
	}
	if changes != 1 {
		t.Fatalf("connection turned red %d times, want once: %+v", changes, evs.Events)
	}
	// A new key brings the column back by itself.
	b.e.MustDo(http.StatusOK, "POST", "/connections/"+b.conn+"/reconnect", map[string]any{"api_key": b.fake.IssueKey("acct-demo")}, nil)
	b.waitRows(tb, "column resumed and finished", allDone("Facts"))
}

func TestRowsFromTheWebhookBridgeAreEnriched(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tb := b.table(map[string]string{"domain": "text"})
	b.addColumn(tb, "Facts", companyFacts(b.conn))
	var h struct{ URL string }
	b.e.MustDo(http.StatusCreated, "POST", "/tables/"+tb+"/hooks", map[string]any{"match_column": "domain"}, &h)
	resp, err := http.Post(h.URL, "application/json", strings.NewReader(`[{"domain":"hooked.com"},{"domain":"zapier.com"}]`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("hook: %d", resp.StatusCode)
	}
	rs := b.waitRows(tb, "bridge rows enriched", allDone("Facts"))
	if len(rs) != 2 || rs[0].Values["phone"] == nil {
		t.Fatalf("rows: %+v", rs)
	}
}
